/** The local stack and the tests host handlers in this process, so they set its environment. */

/** Sets (or, for undefined, deletes) variables; the returned function puts the old values back. */
export function applyEnv(values: Readonly<Record<string, string | undefined>>): () => void {
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  const write = (entries: Record<string, string | undefined>): void => {
    for (const [name, value] of Object.entries(entries)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  write(values);
  return () => write(previous);
}
