// The encryption barrier: a key/value view of everything vault-dev stores (secrets, tokens,
// policies, mounts), encrypted with AES-256-GCM before it reaches physical storage.
//
// Key hierarchy: the root key (Shamir-split by seal.ts, never stored) encrypts the keyring; the
// keyring holds the data-encryption key and a key for naming blobs. Each entry is one blob named by
// an HMAC of its logical key, so file names reveal nothing either. While unsealed, the decrypted
// entries live in memory; sealing drops them and the keys.

import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { PhysicalStore } from './storage.js';

const KEYRING_BLOB = 'keyring';
const ENTRY_FOLDER = 'entries';
const KEYRING_AAD = Buffer.from('vault-dev keyring v1');
const FORMAT_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const ROOT_KEY_BYTES = 32;

/** The root key did not open the keyring: wrong or mismatched unseal keys. */
export class BarrierKeyError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'BarrierKeyError';
  }
}

export class BarrierSealedError extends Error {
  constructor() {
    super('Vault is sealed');
    this.name = 'BarrierSealedError';
  }
}

interface Keyring {
  encryptionKey: Buffer;
  nameKey: Buffer;
}

export class Barrier {
  private keyring: Keyring | undefined;
  private entries = new Map<string, unknown>();

  constructor(private readonly store: PhysicalStore) {}

  get sealed(): boolean {
    return this.keyring === undefined;
  }

  async hasKeyring(): Promise<boolean> {
    return (await this.store.get(KEYRING_BLOB)) !== undefined;
  }

  /** Creates a fresh keyring under `rootKey`, discarding anything stored before, and unseals. */
  async initialize(rootKey: Buffer): Promise<void> {
    for (const name of await this.store.list(ENTRY_FOLDER)) await this.store.delete(`${ENTRY_FOLDER}/${name}`);
    const keyring: Keyring = { encryptionKey: randomBytes(32), nameKey: randomBytes(32) };
    const sealedKeyring = seal(rootKey, Buffer.concat([keyring.encryptionKey, keyring.nameKey]), KEYRING_AAD);
    await this.store.put(KEYRING_BLOB, sealedKeyring);
    this.keyring = keyring;
    this.entries = new Map();
  }

  /** Opens the keyring with `rootKey` and loads every entry; throws BarrierKeyError on a wrong key. */
  async unseal(rootKey: Buffer): Promise<void> {
    const blob = await this.store.get(KEYRING_BLOB);
    if (!blob) throw new Error('barrier has no keyring');
    let plain: Buffer;
    try {
      plain = open(rootKey, blob, KEYRING_AAD);
    } catch {
      throw new BarrierKeyError('cipher: message authentication failed');
    }
    const keyring: Keyring = { encryptionKey: plain.subarray(0, 32), nameKey: plain.subarray(32, 64) };
    const entries = new Map<string, unknown>();
    for (const name of await this.store.list(ENTRY_FOLDER)) {
      const data = await this.store.get(`${ENTRY_FOLDER}/${name}`);
      if (!data) continue;
      const decoded = JSON.parse(open(keyring.encryptionKey, data, Buffer.from(name)).toString('utf8')) as {
        k: string;
        v: unknown;
      };
      entries.set(decoded.k, decoded.v);
    }
    this.keyring = keyring;
    this.entries = entries;
  }

  seal(): void {
    if (this.keyring) {
      this.keyring.encryptionKey.fill(0);
      this.keyring.nameKey.fill(0);
    }
    this.keyring = undefined;
    this.entries = new Map();
  }

  /** A copy of the stored value, so callers cannot change the cache without `put`. */
  get<T>(key: string): T | undefined {
    this.requireUnsealed();
    const value = this.entries.get(key);
    return value === undefined ? undefined : (structuredClone(value) as T);
  }

  /** Vault's List: the direct children of `prefix`, folders with a trailing `/`, sorted. */
  list(prefix: string): string[] {
    this.requireUnsealed();
    const children = new Set<string>();
    for (const key of this.entries.keys()) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      children.add(slash === -1 ? rest : rest.slice(0, slash + 1));
    }
    return [...children].sort();
  }

  /** Every key under `prefix`, at any depth. */
  keysUnder(prefix: string): string[] {
    this.requireUnsealed();
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix));
  }

  async put(key: string, value: unknown): Promise<void> {
    const keyring = this.requireUnsealed();
    const name = this.blobName(keyring, key);
    const plain = Buffer.from(JSON.stringify({ k: key, v: value }), 'utf8');
    await this.store.put(`${ENTRY_FOLDER}/${name}`, seal(keyring.encryptionKey, plain, Buffer.from(name)));
    this.entries.set(key, structuredClone(value));
  }

  async delete(key: string): Promise<void> {
    const keyring = this.requireUnsealed();
    await this.store.delete(`${ENTRY_FOLDER}/${this.blobName(keyring, key)}`);
    this.entries.delete(key);
  }

  private blobName(keyring: Keyring, key: string): string {
    return createHmac('sha256', keyring.nameKey).update(key).digest('hex');
  }

  private requireUnsealed(): Keyring {
    if (!this.keyring) throw new BarrierSealedError();
    return this.keyring;
  }
}

/** AES-256-GCM: version byte, IV, ciphertext, tag. */
function seal(key: Buffer, plain: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT_VERSION]), iv, body, cipher.getAuthTag()]);
}

function open(key: Buffer, blob: Buffer, aad: Buffer): Buffer {
  if (key.length !== ROOT_KEY_BYTES) throw new Error('bad key length');
  if (blob.length < 1 + IV_BYTES + TAG_BYTES || blob[0] !== FORMAT_VERSION) throw new Error('bad blob');
  const iv = blob.subarray(1, 1 + IV_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  const body = blob.subarray(1 + IV_BYTES, blob.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(body), decipher.final()]);
}
