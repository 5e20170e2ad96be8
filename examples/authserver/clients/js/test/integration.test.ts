// Integration tests against a live server named by AUTH_SERVER_URL.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";

import { AuthClient, AuthenticationError, ConflictError } from "../src/index.js";

const SERVER_URL = process.env["AUTH_SERVER_URL"]?.trim() ?? "";
const skip = SERVER_URL
  ? false
  : "AUTH_SERVER_URL is not set (e.g. export AUTH_SERVER_URL=http://127.0.0.1:8000 with the server running)";
const PASSWORD = "integration-password-1";

describe("AuthClient against a live server", () => {
  it("reports health", { skip }, async () => {
    const client = new AuthClient({ baseUrl: SERVER_URL });
    assert.deepEqual(await client.health(), { status: "ok", database: "ok" });
  });

  it("runs the full register/login/refresh/logout flow", { skip }, async () => {
    const client = new AuthClient({ baseUrl: SERVER_URL });
    const email = `js-it-${randomUUID()}@example.com`;

    const user = await client.register(email, PASSWORD, "Integration Test");
    assert.equal(user.email, email);
    assert.equal(user.isActive, true);

    await assert.rejects(client.register(email, PASSWORD), ConflictError);
    await assert.rejects(client.login(email, "not-the-password"), AuthenticationError);

    const first = await client.login(email, PASSWORD);
    assert.equal((await client.me()).id, user.id);

    const second = await client.refresh();
    assert.notEqual(second.refreshToken, first.refreshToken);
    assert.equal((await client.me()).email, email);
    await assert.rejects(client.refresh(first.refreshToken), AuthenticationError);

    await client.logout();
    assert.equal(client.tokens, null);
    await assert.rejects(client.refresh(second.refreshToken), AuthenticationError);
  });

  it("rejects a bad access token", { skip }, async () => {
    const client = new AuthClient({ baseUrl: SERVER_URL });
    await assert.rejects(client.me("not-a-token"), AuthenticationError);
  });
});
