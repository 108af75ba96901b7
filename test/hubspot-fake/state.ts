import { randomBytes } from 'node:crypto';
import type { ObjectKind } from './permissions.js';
import type { Seed, SeedAccount, SeedUser } from './seed.js';

export interface AccessTokenRecord {
  portalId: number;
  userId: number;
  scopes: string[];
  expiresAt: number;
}

export interface RefreshTokenRecord {
  portalId: number;
  userId: number;
  scopes: string[];
}

export interface AuthorizationCode {
  portalId: number;
  userId: number;
  scopes: string[];
  redirectUri: string;
  expiresAt: number;
}

/**
 * A fault of the token endpoint: `hang` never answers (HubSpot did nothing); `{ status }` answers a 5xx before
 * doing anything; `answer-lost` carries the grant out (a rotation happens) and then resets the connection before the
 * answer leaves, as when HubSpot's answer dies on the way.
 */
export type TokenFault = 'hang' | 'answer-lost' | { status: number };

export interface CallRecord {
  method: string;
  route: string;
  /** 0: no answer was sent (a token-endpoint hang or lost answer). */
  status: number;
  portalId?: number;
  /** When the answer left, on the local HubSpot's clock: for counting calls per rate window. */
  at: number;
}

/** Everything the local HubSpot remembers between requests; routes read and change it, tests inspect it. */
export class FakeState {
  readonly accessTokens = new Map<string, AccessTokenRecord>();
  readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  readonly codes = new Map<string, AuthorizationCode>();
  readonly revokedPortals = new Set<number>();
  readonly calls: CallRecord[] = [];
  /** Request times per portal inside each limit's rolling window: the general one and the CRM search one. */
  readonly rateWindows = { general: new Map<number, number[]>(), search: new Map<number, number[]>() };
  /** Notes created through the API, with the records each is associated with (`ticketIds`: its tickets among them). */
  readonly notes: Array<{
    portalId: number;
    id: string;
    body: string;
    ticketIds: string[];
    records: Array<{ kind: ObjectKind; id: string }>;
    ownerId: string | null;
  }> = [];
  /** See FakeHubSpot.switches.userLevelInstalls. */
  userLevelInstalls = false;
  /** See FakeHubSpot.switches.rotateRefreshTokens. */
  rotateRefreshTokens = false;
  /** See FakeHubSpot.switches.tokenAnswerDelayMs. */
  tokenAnswerDelayMs = 0;
  /** Token grants carried out whose answer has not been sent yet (FakeHubSpot.tokens.answersOnTheWay). */
  tokenAnswersOnTheWay = 0;
  /** Faults the token endpoint's next requests meet, in order. */
  readonly tokenFaults: TokenFault[] = [];
  #nextId = 900_000;

  constructor(
    readonly seed: Seed,
    readonly now: () => number,
    readonly accessTokenTtlSeconds: number,
  ) {}

  account(portalId: number): SeedAccount | undefined {
    return this.seed.accounts.find((account) => account.portalId === portalId);
  }

  /** Any seeded user, with their account: HubSpot user ids are global. */
  findUser(userId: number): { account: SeedAccount; user: SeedUser } | undefined {
    for (const account of this.seed.accounts) {
      const user = account.users.find((candidate) => candidate.id === userId);
      if (user !== undefined) return { account, user };
    }
    return undefined;
  }

  issueTokens(portalId: number, userId: number, scopes: string[]): { accessToken: string; refreshToken: string } {
    const refreshToken = this.issueRefreshToken({ portalId, userId, scopes });
    this.revokedPortals.delete(portalId);
    return { accessToken: this.issueAccessToken({ portalId, userId, scopes }), refreshToken };
  }

  issueRefreshToken(grant: RefreshTokenRecord): string {
    const refreshToken = `fake-refresh-${randomBytes(12).toString('hex')}`;
    this.refreshTokens.set(refreshToken, { ...grant });
    return refreshToken;
  }

  /** The refresh token a refresh grant answers with: the same one, or under strict rotation a new one, the old refused from now on. */
  rotate(sent: string, grant: RefreshTokenRecord): string {
    if (!this.rotateRefreshTokens) return sent;
    this.refreshTokens.delete(sent);
    return this.issueRefreshToken(grant);
  }

  issueAccessToken(grant: RefreshTokenRecord): string {
    // HubSpot access tokens start with a region prefix (e.g. "CN..."); the content is opaque to clients.
    const token = `CNfake-${randomBytes(18).toString('base64url')}`;
    this.accessTokens.set(token, { ...grant, expiresAt: this.now() + this.accessTokenTtlSeconds * 1000 });
    return token;
  }

  /** Ids for created records: numeric strings, above the seeded ones, as HubSpot's are. */
  nextId(): string {
    this.#nextId += 1;
    return String(this.#nextId);
  }

  revokeInstall(portalId: number): void {
    this.revokedPortals.add(portalId);
    for (const [token, record] of this.refreshTokens) if (record.portalId === portalId) this.refreshTokens.delete(token);
    for (const [token, record] of this.accessTokens) if (record.portalId === portalId) this.accessTokens.delete(token);
  }
}
