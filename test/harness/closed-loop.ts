/**
 * Closed-loop load, as the tests' process checks and the bench drive the service: `clients` loops,
 * each sending its next request as soon as its last one was answered, until `take` hands out no
 * more request numbers.
 */
export async function closedLoop(clients: number, take: () => number | null, send: (index: number) => Promise<void>): Promise<void> {
  const loop = async (): Promise<void> => {
    for (let i = take(); i !== null; i = take()) await send(i);
  };
  await Promise.all(Array.from({ length: clients }, loop));
}
