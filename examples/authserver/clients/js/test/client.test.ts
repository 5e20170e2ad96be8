// Unit tests: fetch is faked in-process, no server needed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  AuthClient,
  AuthClientError,
  AuthenticationError,
  ConflictError,
  PermissionDeniedError,
  ServerError,
  TransportError,
  ValidationError,
  type FetchLike,
} from "../src/index.js";

const BASE = "http://auth.test";
const USER_JSON = {
  id: 1,
  email: "ada@example.com",
  full_name: "Ada",
  is_active: true,
  created_at: "2024-06-01T12:00:00Z",
};

function pair(n: number) {
  return {
    access_token: `access-${n}`,
    refresh_token: `refresh-${n}`,
    token_type: "bearer",
    expires_in: 900,
  };
}

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

type Handler = (call: Call) => Response | Promise<Response>;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

function fake(handler: Handler): { client: AuthClient; calls: Call[] } {
  const calls: Call[] = [];
  const fetch: FetchLike = async (input, init) => {
    const call: Call = {
      url: input,
      method: init?.method ?? "GET",
      headers: { ...(init?.headers as Record<string, string>) },
      body: typeof init?.body === "string" ? init.body : undefined,
    };
    calls.push(call);
    return handler(call);
  };
  return { client: new AuthClient({ baseUrl: `${BASE}/`, fetch }), calls };
}

function last(calls: Call[]): Call {
  const call = calls.at(-1);
  assert.ok(call, "no request was made");
  return call;
}

describe("AuthClient (fake fetch)", () => {
  it("registers a user", async () => {
    const { client, calls } = fake(() => json(201, USER_JSON));
    const user = await client.register("ada@example.com", "pw-12345678", "Ada");
    assert.deepEqual(user, {
      id: 1,
      email: "ada@example.com",
      fullName: "Ada",
      isActive: true,
      createdAt: "2024-06-01T12:00:00Z",
    });
    const call = last(calls);
    assert.equal(call.method, "POST");
    assert.equal(call.url, `${BASE}/auth/register`);
    assert.equal(call.headers["Content-Type"], "application/json");
    assert.deepEqual(JSON.parse(call.body ?? ""), {
      email: "ada@example.com",
      password: "pw-12345678",
      full_name: "Ada",
    });
  });

  it("omits full_name when not given", async () => {
    const { client, calls } = fake(() => json(201, { ...USER_JSON, full_name: null }));
    const user = await client.register("ada@example.com", "pw-12345678");
    assert.equal(user.fullName, null);
    assert.ok(!("full_name" in JSON.parse(last(calls).body ?? "")));
  });

  it("maps 409 to ConflictError", async () => {
    const { client } = fake(() => json(409, { detail: "Email already registered" }));
    await assert.rejects(client.register("ada@example.com", "pw-12345678"), (error) => {
      assert.ok(error instanceof ConflictError);
      assert.ok(error instanceof AuthClientError);
      assert.equal(error.status, 409);
      assert.equal(error.message, "Email already registered");
      assert.equal(error.name, "ConflictError");
      return true;
    });
  });

  it("maps 422 to ValidationError and keeps the detail", async () => {
    const detail = [{ loc: ["body", "email"], msg: "bad" }];
    const { client } = fake(() => json(422, { detail }));
    await assert.rejects(client.register("nope", "pw"), (error) => {
      assert.ok(error instanceof ValidationError);
      assert.deepEqual(error.detail, detail);
      return true;
    });
  });

  it("logs in with an OAuth2 form and stores the tokens", async () => {
    const { client, calls } = fake(() => json(200, pair(1)));
    const tokens = await client.login("ada@example.com", "pw-12345678");
    assert.deepEqual(tokens, {
      accessToken: "access-1",
      refreshToken: "refresh-1",
      tokenType: "bearer",
      expiresIn: 900,
    });
    assert.deepEqual(client.tokens, tokens);
    const call = last(calls);
    assert.equal(call.headers["Content-Type"], "application/x-www-form-urlencoded");
    const form = new URLSearchParams(call.body);
    assert.equal(form.get("username"), "ada@example.com");
    assert.equal(form.get("password"), "pw-12345678");
  });

  it("maps 401 on login to AuthenticationError", async () => {
    const { client } = fake(() => json(401, { detail: "Incorrect email or password" }));
    await assert.rejects(client.login("ada@example.com", "wrong"), AuthenticationError);
    assert.equal(client.tokens, null);
  });

  it("maps 403 to PermissionDeniedError", async () => {
    const { client } = fake(() => json(403, { detail: "Inactive user" }));
    await assert.rejects(client.login("ada@example.com", "pw-12345678"), PermissionDeniedError);
  });

  it("uses the stored access token for me()", async () => {
    const { client, calls } = fake((call) =>
      call.url.endsWith("/auth/login") ? json(200, pair(1)) : json(200, USER_JSON),
    );
    await client.login("ada@example.com", "pw-12345678");
    const user = await client.me();
    assert.equal(user.email, "ada@example.com");
    assert.equal(last(calls).headers["Authorization"], "Bearer access-1");
    assert.equal(last(calls).url, `${BASE}/users/me`);
  });

  it("accepts an explicit access token", async () => {
    const { client, calls } = fake(() => json(200, USER_JSON));
    await client.me("explicit");
    assert.equal(last(calls).headers["Authorization"], "Bearer explicit");
  });

  it("refuses me() without a token before any request", async () => {
    const { client, calls } = fake(() => json(500, {}));
    await assert.rejects(client.me(), AuthenticationError);
    assert.equal(calls.length, 0);
  });

  it("rotates stored tokens on refresh()", async () => {
    let n = 0;
    const { client, calls } = fake(() => json(200, pair(++n)));
    await client.login("ada@example.com", "pw-12345678");
    const tokens = await client.refresh();
    assert.deepEqual(JSON.parse(last(calls).body ?? ""), { refresh_token: "refresh-1" });
    assert.equal(tokens.accessToken, "access-2");
    assert.deepEqual(client.tokens, tokens);
  });

  it("logout() revokes and forgets the tokens", async () => {
    const { client, calls } = fake((call) =>
      call.url.endsWith("/auth/login") ? json(200, pair(1)) : new Response(null, { status: 204 }),
    );
    await client.login("ada@example.com", "pw-12345678");
    await client.logout();
    assert.deepEqual(JSON.parse(last(calls).body ?? ""), { refresh_token: "refresh-1" });
    assert.equal(client.tokens, null);
  });

  it("logout() of another token keeps the stored pair", async () => {
    const { client } = fake((call) =>
      call.url.endsWith("/auth/login") ? json(200, pair(1)) : new Response(null, { status: 204 }),
    );
    await client.login("ada@example.com", "pw-12345678");
    await client.logout("someone-elses");
    assert.notEqual(client.tokens, null);
  });

  it("reports health", async () => {
    const { client } = fake(() => json(200, { status: "ok", database: "ok" }));
    assert.deepEqual(await client.health(), { status: "ok", database: "ok" });
  });

  it("maps 503 health to ServerError with the body as detail", async () => {
    const body = { status: "error", database: "unavailable" };
    const { client } = fake(() => json(503, body));
    await assert.rejects(client.health(), (error) => {
      assert.ok(error instanceof ServerError);
      assert.equal(error.status, 503);
      assert.deepEqual(error.detail, body);
      return true;
    });
  });

  it("handles non-JSON error bodies", async () => {
    const { client } = fake(() => new Response("Bad Gateway", { status: 502 }));
    await assert.rejects(client.health(), (error) => {
      assert.ok(error instanceof ServerError);
      assert.equal(error.message, "Bad Gateway");
      return true;
    });
  });

  it("uses the base class for unexpected statuses", async () => {
    const { client } = fake(() => new Response(null, { status: 418 }));
    await assert.rejects(client.health(), (error) => {
      assert.ok(error instanceof AuthClientError);
      assert.equal(error.constructor, AuthClientError);
      assert.equal(error.message, "HTTP 418");
      return true;
    });
  });

  it("rejects a success without a JSON body", async () => {
    const { client } = fake(() => new Response("hello", { status: 200 }));
    await assert.rejects(client.health(), /expected a JSON body/);
  });

  it("wraps network failures in TransportError", async () => {
    const { client } = fake(() => {
      throw new TypeError("fetch failed");
    });
    await assert.rejects(client.health(), (error) => {
      assert.ok(error instanceof TransportError);
      assert.match(error.message, /fetch failed/);
      return true;
    });
  });
});
