import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { AppRuntime } from '../runtime.js';
import type { AppState, AppStore } from '../store.js';

export interface AppContextValue {
  store: AppStore;
  runtime: AppRuntime;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error('AppContext missing');
  return ctx;
}

/** Subscribes a component to one slice; it re-renders only when that slice changes (Object.is). */
export function useAppState<T>(selector: (s: AppState) => T): T {
  return useStore(useApp().store, selector);
}
