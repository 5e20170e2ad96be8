import assert from "node:assert/strict";
import { buildImportGraph, moduleName, scanImports, selectTests } from "../lib/python/pyimports.ts";

Deno.test("scanImports reads plain, from, relative and parenthesised imports", () => {
  const source = [
    "import os, sys as system",
    "import app.models",
    "from app.config import (",
    "    Settings,  # the settings",
    "    resolve_database_url as resolve,",
    ")",
    "from . import deps",
    "from ..core import thing",
    "from x import \\",
    "    y",
    "if True:",
    "    import lazy.mod; import other",
    '"""import not_real"""',
    "# from nope import no",
    "text = 'from fake import x'",
  ].join("\n");
  assert.deepEqual(scanImports(source), [
    { module: "os", names: [], level: 0 },
    { module: "sys", names: [], level: 0 },
    { module: "app.models", names: [], level: 0 },
    { module: "app.config", names: ["Settings", "resolve_database_url"], level: 0 },
    { module: "", names: ["deps"], level: 1 },
    { module: "core", names: ["thing"], level: 2 },
    { module: "x", names: ["y"], level: 0 },
    { module: "lazy.mod", names: [], level: 0 },
    { module: "other", names: [], level: 0 },
  ]);
});

Deno.test("moduleName maps files below source roots to dotted names", () => {
  assert.equal(moduleName("app/routers/auth.py", ["."]), "app.routers.auth");
  assert.equal(moduleName("app/__init__.py", ["."]), "app");
  assert.equal(moduleName("src/authclient/client.py", ["src", "."]), "authclient.client");
  assert.equal(moduleName("my-dir/x.py", ["."]), undefined);
});

function graphOf(files: Record<string, string>, roots = ["."]) {
  return buildImportGraph(new Map(Object.entries(files)), { sourceRoots: roots });
}

const SERVER = {
  "app/__init__.py": "",
  "app/main.py": "from .routers import auth, health\nfrom app import db\n",
  "app/db.py": "import sqlalchemy\n",
  "app/security.py": "import hashlib\n",
  "app/routers/__init__.py": "",
  "app/routers/auth.py": "from ..security import hash_password\nfrom app.db import get_db\n",
  "app/routers/health.py": "from fastapi import APIRouter\n",
  "app/unused.py": "",
  "tests/__init__.py": "",
  "tests/conftest.py": "import pytest\n",
  "tests/test_security.py": "from app import security\n",
  "tests/test_auth.py": "from app.main import create_app\n",
  "tests/test_db.py": "from app.db import (\n  get_db,\n)\n",
};
const TESTS = ["tests/test_auth.py", "tests/test_db.py", "tests/test_security.py"];

Deno.test("selectTests runs only the test files that import a changed module transitively", () => {
  const graph = graphOf(SERVER);
  assert.deepEqual(
    selectTests(graph, { changed: ["app/security.py"], testFiles: TESTS }).files,
    ["tests/test_auth.py", "tests/test_security.py"],
  );
  assert.deepEqual(
    selectTests(graph, { changed: ["app/routers/health.py"], testFiles: TESTS }).files,
    ["tests/test_auth.py"],
  );
  assert.deepEqual(
    selectTests(graph, { changed: ["tests/test_db.py"], testFiles: TESTS }).files,
    ["tests/test_db.py"],
  );
});

Deno.test("selectTests selects everything for conftest, config, fixtures and unimported modules", () => {
  const graph = graphOf(SERVER);
  for (
    const changed of [
      "tests/conftest.py",
      "pyproject.toml",
      "setup.cfg",
      "requirements-dev.txt",
      "tests/fixtures/data.json",
      "app/unused.py",
      "alembic.ini",
    ]
  ) {
    const selection = selectTests(graph, { changed: [changed], testFiles: TESTS });
    assert.equal(selection.all, true, changed);
    assert.deepEqual(selection.files, TESTS);
  }
});

Deno.test("selectTests follows what conftest.py imports to the tests below it", () => {
  const graph = graphOf({
    ...SERVER,
    "app/crud.py": "from app.security import hash_password\n",
    "app/routers/auth.py": "from app import crud\n",
    "tests/conftest.py": "import pytest\n\n@pytest.fixture(autouse=True)\ndef app():\n" +
      "    from app.main import create_app\n    return create_app()\n",
    "tests/api/test_login.py": "def test_login(client):\n    assert client\n",
    "other/conftest.py": "from app import db\n",
    "other/test_other.py": "def test_other():\n    pass\n",
  });
  const tests = [...TESTS, "tests/api/test_login.py", "other/test_other.py"];
  const selection = selectTests(graph, { changed: ["app/crud.py"], testFiles: tests });
  assert.equal(selection.all, false);
  // test_login.py imports nothing of the app; its conftest's fixture imports app.main → crud.
  assert.deepEqual(selection.files, [
    "tests/api/test_login.py",
    "tests/test_auth.py",
    "tests/test_db.py",
    "tests/test_security.py",
  ]);
  assert.match(selection.reasons[0]!, /via conftest\.py by "tests\/api\/test_login\.py"/);
  assert.match(selection.reasons[0]!, /imported by "tests\/test_auth\.py"/);
  // A conftest reaches only the tests in and below its own folder.
  const db = selectTests(graph, { changed: ["app/db.py"], testFiles: tests });
  assert.ok(db.files.includes("other/test_other.py"));
  assert.match(db.reasons[0]!, /via conftest\.py by .*"other\/test_other\.py"/);
});

Deno.test("selectTests resolves src layouts", () => {
  const graph = graphOf({
    "src/authclient/__init__.py": "from .client import AuthClient\n",
    "src/authclient/client.py": "from .models import User\nfrom authclient.errors import E\n",
    "src/authclient/models.py": "",
    "src/authclient/errors.py": "",
    "tests/test_client.py": "from authclient import AuthClient\n",
    "tests/test_models.py": "import authclient.models\n",
  }, ["src", "."]);
  const tests = ["tests/test_client.py", "tests/test_models.py"];
  assert.deepEqual(
    selectTests(graph, { changed: ["tests/test_models.py"], testFiles: tests }).files,
    ["tests/test_models.py"],
  );
  // Importing authclient.models runs authclient/__init__, which imports the rest.
  assert.deepEqual(
    selectTests(graph, { changed: ["src/authclient/errors.py"], testFiles: tests }).files,
    tests,
  );
});
