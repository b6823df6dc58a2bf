/**
 * Under the test runner the servers of two test files share the machine's cores at once, and an
 * engine at a lower priority would wait behind the other file's threads, not only behind its own
 * HTTP thread, so its pace (and every deadline that depends on it) would follow the other file's
 * load. Tests run the engine at the process's priority; test/engine/engine-niceness.test.ts sets
 * the setting itself. Scripts and the bench, outside the runner, keep the service's default.
 */
export const ENGINE_PRIORITY_ENV: Record<string, string> = process.env.VITEST ? { PRM_ENGINE_NICENESS: '0' } : {};
