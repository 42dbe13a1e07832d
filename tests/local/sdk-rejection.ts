/** The error an AWS SDK call (or any promise) was rejected with; fails the test when it succeeded. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("the request succeeded");
}
