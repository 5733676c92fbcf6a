// Where tokens live, and why: the id and access tokens (one hour) only in memory, so nothing readable by a script
// outlives the tab's JavaScript state; the refresh token in localStorage, so a reload or a new tab does not ask for
// the password again. The CSP (no inline scripts, no third-party origins) is what keeps a script from reading it;
// signing out revokes it at Cognito (GlobalSignOut) and forgets it here.
import type { AppConfig } from "./config";
import { type AuthTokens, CognitoError, globalSignOut, refresh, signIn } from "./cognito";

const REFRESH_KEY = "mumble.refreshToken";
const EARLY_SECONDS = 60; // renew a little before expiry so a request never leaves with a dying token

export type SignedOutReason = "signedOut" | "expired" | null;

interface Claims {
  exp: number;
  email?: string;
  sub: string;
}

function claimsOf(token: string): Claims {
  const part = token.split(".")[1] ?? "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as Claims;
}

export class Session {
  private tokens: AuthTokens | null = null;
  private renewing: Promise<string | null> | null = null;
  private listeners = new Set<() => void>();
  reason: SignedOutReason = null;

  constructor(private readonly config: AppConfig) {}

  get signedIn(): boolean {
    return this.tokens !== null;
  }

  get email(): string {
    return this.tokens ? claimsOf(this.tokens.IdToken).email ?? "" : "";
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    this.listeners.forEach((listener) => listener());
  }

  private keep(tokens: AuthTokens): void {
    this.tokens = tokens;
    if (tokens.RefreshToken) localStorage.setItem(REFRESH_KEY, tokens.RefreshToken);
    this.reason = null;
    this.changed();
  }

  /** On page load: a kept refresh token signs the user back in without their password. */
  async resume(): Promise<void> {
    if (localStorage.getItem(REFRESH_KEY)) await this.renew();
  }

  async signIn(email: string, password: string): Promise<void> {
    this.keep(await signIn(this.config, email.trim(), password));
  }

  async signOut(): Promise<void> {
    const access = this.tokens?.AccessToken;
    this.forget("signedOut");
    if (access) await globalSignOut(this.config, access).catch(() => undefined); // the local state is gone anyway
  }

  private forget(reason: SignedOutReason): void {
    this.tokens = null;
    localStorage.removeItem(REFRESH_KEY);
    this.reason = reason;
    this.changed();
  }

  /** A valid id token (renewed if it is about to expire), or null when the session is over. */
  async idToken(): Promise<string | null> {
    if (this.tokens && claimsOf(this.tokens.IdToken).exp - EARLY_SECONDS > Date.now() / 1000) {
      return this.tokens.IdToken;
    }
    return this.renew();
  }

  /** The API said 401 for a token we thought valid (clock skew, revoked): renew once. */
  async renewAfterRejection(): Promise<string | null> {
    return this.renew();
  }

  private renew(): Promise<string | null> {
    this.renewing ??= this.doRenew().finally(() => (this.renewing = null));
    return this.renewing;
  }

  private async doRenew(): Promise<string | null> {
    const refreshToken = this.tokens?.RefreshToken ?? localStorage.getItem(REFRESH_KEY);
    if (!refreshToken) {
      if (this.tokens) this.forget("expired");
      return null;
    }
    try {
      this.keep(await refresh(this.config, refreshToken));
      return this.tokens!.IdToken;
    } catch (error) {
      if (error instanceof CognitoError && error.code === "NetworkError") throw error;
      this.forget("expired"); // revoked or expired refresh token: back to the sign-in page, with a reason
      return null;
    }
  }
}
