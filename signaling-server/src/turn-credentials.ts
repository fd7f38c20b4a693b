/**
 * Short-lived TURN credentials from a shared secret: the "TURN REST API"
 * scheme (draft-uberti-behave-turn-rest) that coturn implements with
 * `--use-auth-secret --static-auth-secret=<secret>`:
 *
 *   username = `<expiry, unix seconds>:<name>`
 *   password = base64(HMAC-SHA1(secret, username))
 *
 * coturn recomputes the password from the username and refuses it once the
 * expiry has passed, so the page never holds a long-lived password and the
 * signaling server never talks to coturn. Pure: the clock is an argument.
 */
import { createHmac } from 'node:crypto';
import { CodedError, type IceServer } from '@peerbench/protocol';

/** Default lifetime of issued credentials: long enough for a session's reconnects, short if leaked. */
export const DEFAULT_TURN_CREDENTIAL_TTL_S = 12 * 3600;
export const MIN_TURN_CREDENTIAL_TTL_S = 60;
export const MAX_TURN_CREDENTIAL_TTL_S = 7 * 24 * 3600;
/** coturn accepts any secret; we insist on one that is not trivially guessable. */
export const MIN_TURN_SECRET_CHARS = 16;
export const MAX_TURN_SECRET_CHARS = 256;
/** The name part is free text for coturn's logs; we keep it short and colon-free. */
export const MAX_TURN_NAME_CHARS = 64;

export class TurnCredentialError extends CodedError<'invalid-secret' | 'invalid-ttl' | 'invalid-name'> {
  override readonly name = 'TurnCredentialError';
}

export interface TurnCredential {
  username: string;
  credential: string;
  /** Unix seconds after which coturn refuses it. */
  expiresAtS: number;
}

export function checkTurnSecret(secret: string): void {
  if (secret.length < MIN_TURN_SECRET_CHARS || secret.length > MAX_TURN_SECRET_CHARS) {
    throw new TurnCredentialError(
      'invalid-secret',
      `the TURN secret must be ${MIN_TURN_SECRET_CHARS}-${MAX_TURN_SECRET_CHARS} characters`,
    );
  }
  // coturn reads it from a command line or config file: printable ASCII without spaces.
  if (!/^[\x21-\x7e]+$/.test(secret)) {
    throw new TurnCredentialError('invalid-secret', 'the TURN secret must be printable ASCII without spaces');
  }
}

export function checkTurnTtl(ttlS: number): void {
  if (!Number.isInteger(ttlS) || ttlS < MIN_TURN_CREDENTIAL_TTL_S || ttlS > MAX_TURN_CREDENTIAL_TTL_S) {
    throw new TurnCredentialError(
      'invalid-ttl',
      `the TURN credential TTL must be an integer of ${MIN_TURN_CREDENTIAL_TTL_S}-${MAX_TURN_CREDENTIAL_TTL_S} s`,
    );
  }
}

/** The password coturn expects for `username` under `secret`. */
export function turnPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username).digest('base64');
}

/** Credentials for `name`, valid for ttlS seconds from nowMs. */
export function issueTurnCredential(
  secret: string,
  name: string,
  ttlS: number,
  nowMs: number = Date.now(),
): TurnCredential {
  checkTurnSecret(secret);
  checkTurnTtl(ttlS);
  if (name.length === 0 || name.length > MAX_TURN_NAME_CHARS || !/^[\x21-\x39\x3b-\x7e]+$/.test(name)) {
    throw new TurnCredentialError(
      'invalid-name',
      `the name must be 1-${MAX_TURN_NAME_CHARS} printable ASCII characters without ':' or spaces`,
    );
  }
  const expiresAtS = Math.floor(nowMs / 1000) + ttlS;
  const username = `${expiresAtS}:${name}`;
  return { username, credential: turnPassword(secret, username), expiresAtS };
}

/** What the signaling server hands out: STUN URLs, and TURN URLs with the shared secret. */
export interface TurnRestConfig {
  stunUrls: readonly string[];
  turnUrls: readonly string[];
  secret: string;
  ttlS: number;
}

/**
 * The ICE servers for one peer's welcome: the STUN entry as is, the TURN
 * entry with fresh credentials named after the peer (a prefix of its id, so
 * coturn's logs say who relayed). A peer reconnecting gets new ones.
 */
export function iceServersWithTurnCredentials(
  config: TurnRestConfig,
  peerId: string,
  nowMs: number = Date.now(),
): IceServer[] {
  const servers: IceServer[] = [];
  if (config.stunUrls.length > 0) servers.push({ urls: [...config.stunUrls] });
  if (config.turnUrls.length > 0) {
    const { username, credential } = issueTurnCredential(
      config.secret,
      peerId.slice(0, 16) || 'peer',
      config.ttlS,
      nowMs,
    );
    servers.push({ urls: [...config.turnUrls], username, credential });
  }
  return servers;
}
