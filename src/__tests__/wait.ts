/** Wait until `predicate` holds, for renders that React schedules itself. */
export async function waitFor(
  predicate: () => boolean,
  timeout = 3000
): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeout) {
      throw new Error('Timed out waiting for the view to render');
    }
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}
