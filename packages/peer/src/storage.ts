/**
 * Where a peer keeps what must survive a restart: its identity (Ed25519 seed),
 * its model weights, its slot map and history. Values are bytes; keys are
 * short names. IndexedDB in the browser (idb-keyval), a directory in Node,
 * memory in tests.
 */

export interface PeerStorage {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Keys the Peer uses. */
export const STORAGE_KEYS = {
  identity: 'identity',
  weights: 'weights',
  meta: 'meta',
} as const;

const KEY_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
function checkKey(key: string): void {
  if (!KEY_PATTERN.test(key)) throw new RangeError(`invalid storage key ${JSON.stringify(key)}`);
}

export class MemoryStorage implements PeerStorage {
  private readonly map = new Map<string, Uint8Array>();
  async get(key: string): Promise<Uint8Array | undefined> {
    const v = this.map.get(key);
    return v ? new Uint8Array(v) : undefined;
  }
  async set(key: string, value: Uint8Array): Promise<void> {
    checkKey(key);
    this.map.set(key, new Uint8Array(value));
  }
  async delete(key: string): Promise<void> {
    this.map.delete(key);
  }
}

/** One file per key in a directory (Node). Writes go through a temp file and a rename, so a crash never leaves half a file. */
export class FileStorage implements PeerStorage {
  constructor(readonly dir: string) {}

  private async fs(): Promise<typeof import('node:fs/promises')> {
    const specifier = 'node:fs/promises';
    return (await import(/* @vite-ignore */ specifier)) as typeof import('node:fs/promises');
  }

  private path(key: string): string {
    checkKey(key);
    return `${this.dir}/${key}.bin`;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const fs = await this.fs();
    try {
      return new Uint8Array(await fs.readFile(this.path(key)));
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    const fs = await this.fs();
    await fs.mkdir(this.dir, { recursive: true });
    const tmp = `${this.path(key)}.${Math.random().toString(36).slice(2)}.tmp`;
    await fs.writeFile(tmp, value);
    await fs.rename(tmp, this.path(key));
  }

  async delete(key: string): Promise<void> {
    const fs = await this.fs();
    await fs.rm(this.path(key), { force: true });
  }
}

/** IndexedDB through idb-keyval, one object store per database name (browser). */
export class IdbStorage implements PeerStorage {
  private store: Promise<import('idb-keyval').UseStore> | undefined;
  constructor(
    readonly dbName = 'peerbench',
    readonly storeName = 'peer',
  ) {}

  private async idb() {
    const idb = await import('idb-keyval');
    this.store ??= Promise.resolve(idb.createStore(this.dbName, this.storeName));
    return { idb, store: await this.store };
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const { idb, store } = await this.idb();
    const v = await idb.get<ArrayBuffer | Uint8Array>(key, store);
    if (v === undefined) return undefined;
    return v instanceof Uint8Array ? v : new Uint8Array(v);
  }

  async set(key: string, value: Uint8Array): Promise<void> {
    checkKey(key);
    const { idb, store } = await this.idb();
    // Stored as a plain ArrayBuffer: structured clone of it is cheapest and portable.
    await idb.set(key, value.slice().buffer, store);
  }

  async delete(key: string): Promise<void> {
    const { idb, store } = await this.idb();
    await idb.del(key, store);
  }
}
