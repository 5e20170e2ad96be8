import { AuthClientError, AuthenticationError, TransportError, errorForStatus } from "./errors.js";

export interface User {
  id: number;
  email: string;
  fullName: string | null;
  isActive: boolean;
  /** ISO 8601 timestamp as sent by the server. */
  createdAt: string;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  /** Access token lifetime in seconds. */
  expiresIn: number;
}

export interface Health {
  status: string;
  database: string;
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface AuthClientOptions {
  /** e.g. "http://127.0.0.1:8000" */
  baseUrl: string;
  /** Inject a fetch implementation (tests pass a fake). Defaults to global fetch. */
  fetch?: FetchLike;
  /** Per-request timeout in milliseconds (default 10000). */
  timeoutMs?: number;
}

interface UserJson {
  id: number;
  email: string;
  full_name?: string | null;
  is_active?: boolean;
  created_at: string;
}

interface TokenPairJson {
  access_token: string;
  refresh_token: string;
  token_type?: string;
  expires_in: number;
}

function toUser(data: UserJson): User {
  return {
    id: data.id,
    email: data.email,
    fullName: data.full_name ?? null,
    isActive: data.is_active ?? true,
    createdAt: data.created_at,
  };
}

function toTokenPair(data: TokenPairJson): TokenPair {
  return {
    accessToken: data.access_token,
    refreshToken: data.refresh_token,
    tokenType: data.token_type ?? "bearer",
    expiresIn: data.expires_in,
  };
}

/**
 * Client for the auth server. After `login()` (or `refresh()`) the token pair is
 * kept in `tokens`, so `me()`, `refresh()` and `logout()` work without arguments.
 */
export class AuthClient {
  readonly baseUrl: string;
  tokens: TokenPair | null = null;
  private readonly fetchImpl: FetchLike;
  private readonly timeoutMs: number;

  constructor(options: AuthClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** GET /health; throws ServerError when the server answers 503. */
  async health(): Promise<Health> {
    return (await this.request("GET", "/health")) as Health;
  }

  /** Create an account. Throws ConflictError if the email is taken. */
  async register(email: string, password: string, fullName?: string): Promise<User> {
    const body: Record<string, string> = { email, password };
    if (fullName !== undefined) body["full_name"] = fullName;
    return toUser((await this.request("POST", "/auth/register", { json: body })) as UserJson);
  }

  /** Exchange credentials for tokens (OAuth2 password form) and keep them. */
  async login(email: string, password: string): Promise<TokenPair> {
    const form = new URLSearchParams({ username: email, password });
    const data = (await this.request("POST", "/auth/login", { form })) as TokenPairJson;
    this.tokens = toTokenPair(data);
    return this.tokens;
  }

  /** Rotate tokens: the old refresh token is revoked by the server. */
  async refresh(refreshToken?: string): Promise<TokenPair> {
    const token = refreshToken ?? this.stored("refreshToken");
    const data = (await this.request("POST", "/auth/refresh", {
      json: { refresh_token: token },
    })) as TokenPairJson;
    this.tokens = toTokenPair(data);
    return this.tokens;
  }

  /** Revoke the refresh token and forget the stored tokens. */
  async logout(refreshToken?: string): Promise<void> {
    const token = refreshToken ?? this.stored("refreshToken");
    await this.request("POST", "/auth/logout", { json: { refresh_token: token } });
    if (this.tokens?.refreshToken === token) this.tokens = null;
  }

  /** The user the access token belongs to. */
  async me(accessToken?: string): Promise<User> {
    const token = accessToken ?? this.stored("accessToken");
    const data = await this.request("GET", "/users/me", {
      headers: { Authorization: `Bearer ${token}` },
    });
    return toUser(data as UserJson);
  }

  private stored(name: "accessToken" | "refreshToken"): string {
    if (this.tokens === null) {
      throw new AuthenticationError(`No ${name} given and not logged in`);
    }
    return this.tokens[name];
  }

  private async request(
    method: string,
    path: string,
    options: { json?: unknown; form?: URLSearchParams; headers?: Record<string, string> } = {},
  ): Promise<unknown> {
    const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
    let body: string | undefined;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.form !== undefined) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      body = options.form.toString();
    }
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(this.timeoutMs) };
    if (body !== undefined) init.body = body;

    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, init);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TransportError(`${method} ${path} failed: ${reason}`);
    }
    if (response.status === 204) return undefined;

    const text = await response.text();
    let payload: unknown = undefined;
    if (text !== "") {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = undefined;
      }
    }
    if (!response.ok) {
      let detail: unknown;
      if (payload !== null && typeof payload === "object" && "detail" in payload) {
        detail = (payload as { detail: unknown }).detail;
      } else {
        detail = payload ?? (text || undefined);
      }
      throw errorForStatus(response.status, detail);
    }
    if (payload === undefined) {
      throw new AuthClientError(`${method} ${path}: expected a JSON body`, response.status);
    }
    return payload;
  }
}
