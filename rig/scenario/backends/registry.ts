// The backends scenarios run on, by name: one row each, its implementation beside this file (<name>.ts). The one
// list of names: a scenario's `backends`, the context's `backend`, `--target` and its help all come from it.

export const BACKENDS = {
  guest: { summary: 'scenarios talk to the module in a VM' },
  host: { summary: 'in the host kernel (root, a VM you can lose)' },
} as const;

/** A backend's name ('guest' | 'host'): the keys of BACKENDS. */
export type BackendName = keyof typeof BACKENDS;

export const BACKEND_NAMES: readonly BackendName[] = Object.freeze(Object.keys(BACKENDS) as BackendName[]);

export function isBackendName(name: unknown): name is BackendName {
  return typeof name === 'string' && Object.hasOwn(BACKENDS, name);
}

/** Whether a scenario runs on `backend`: its `backends` list names it, or it has none (then it runs on all). */
export function runsOn(scenario: { readonly backends?: readonly BackendName[] }, backend: BackendName): boolean {
  return !scenario.backends || scenario.backends.includes(backend);
}
