/**
 * Node built-ins loaded at run time, for the Node-only paths of modules the
 * browser bundle also contains (backend.ts, mnist-task.ts): the specifier is
 * a variable, so bundlers never try to resolve `node:*`.
 */
export async function nodeImport<T>(specifier: string): Promise<T> {
  return (await import(/* @vite-ignore */ specifier)) as T;
}

/** A `require` resolving packages as this package does (for files inside dependencies). */
export async function packageRequire(): Promise<ReturnType<typeof import('node:module').createRequire>> {
  const { createRequire } = await nodeImport<typeof import('node:module')>('node:module');
  return createRequire(import.meta.url);
}
