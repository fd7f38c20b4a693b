type Listener = (...args: unknown[]) => void;

/** A tiny typed event emitter: `on` returns its own unsubscribe function. */
export class Emitter<Events extends Record<string, unknown[]>> {
  private readonly listeners = new Map<keyof Events, Set<Listener>>();

  on<K extends keyof Events>(event: K, cb: (...args: Events[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(cb as unknown as Listener);
    return () => this.off(event, cb);
  }

  off<K extends keyof Events>(event: K, cb: (...args: Events[K]) => void): void {
    this.listeners.get(event)?.delete(cb as unknown as Listener);
  }

  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const cb of [...set]) {
      try {
        cb(...(args as unknown[]));
      } catch (e) {
        // A listener's bug must not break the transport (or crash Node): log it and go on.
        console.error('peerbench mesh: event listener threw', e);
      }
    }
  }
}
