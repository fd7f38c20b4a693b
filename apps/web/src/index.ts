// The web app is not a library; these exports exist for tests and tools that
// read the app's saved data or drive its store (e.g. the e2e suite's types).

export { migrate, PERSIST_VERSION, type PersistedState } from './persistence.js';
export type { AppState, AppStore, Notice, Phase } from './store.js';
