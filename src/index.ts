/**
 * What the implicit-prm package exports to programs: the typed HTTP client and its wire types.
 * The service itself runs as a process (`prm serve`, `npm start` or the container image).
 */
export * from './client/index.js';
