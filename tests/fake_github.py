"""A fake GitHub REST API on 127.0.0.1 that validates every request against the shared OpenAPI subset.

Any request that the subset does not describe, or describes differently (an unknown path or method, a missing
or mistyped parameter, a body that does not match the schema, no token), is recorded in `violations`; tests
assert that there are none. It keeps issue comments in memory and can be told to fail the next requests.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from openapi_schema_validator import OAS30Validator

SPEC_PATH = Path(__file__).resolve().parent / "schemas" / "github-rest-subset.openapi.json"


@dataclass
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]


@dataclass
class Scripted:
    method: str
    path_contains: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class Spec:
    def __init__(self, path: Path = SPEC_PATH) -> None:
        self.document = json.loads(path.read_text())
        self.operations: list[Operation] = []
        for template, item in self.document["paths"].items():
            regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"
            for method, spec in item.items():
                if method in ("get", "post", "patch", "put", "delete"):
                    self.operations.append(Operation(method.upper(), template, re.compile(regex), spec))

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def validate_schema(self, schema: dict[str, Any], value: Any) -> list[str]:
        # The schema's $refs point into #/components, so validate against a root that carries them.
        rooted = {**schema, "components": self.document["components"]}
        return [f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}"
                for e in OAS30Validator(rooted).iter_errors(value)]

    def check(self, method: str, raw_path: str, query: dict[str, list[str]], body: bytes,
              headers: dict[str, str]) -> tuple[Operation | None, dict[str, str], list[str]]:
        matches = [(op, m) for op in self.operations if (m := op.pattern.match(raw_path))]
        if not matches:
            return None, {}, [f"{method} {raw_path}: no such path in the API subset"]
        candidates = [(op, m) for op, m in matches if op.method == method]
        if not candidates:
            return None, {}, [f"{method} {raw_path}: method not allowed on {matches[0][0].template}"]
        operation, match = candidates[0]
        problems: list[str] = []
        if not headers.get("authorization", "").startswith(("Bearer ", "token ")):
            problems.append(f"{method} {operation.template}: no Authorization token")
        path_values = match.groupdict()
        for parameter in map(self.resolve, operation.spec.get("parameters", [])):
            location, name = parameter["in"], parameter["name"]
            schema = self.resolve(parameter.get("schema", {}))
            if location == "path":
                raw = path_values.get(name)
            elif location == "query":
                raw = query[name][-1] if name in query else None
            else:
                continue
            if raw is None:
                if parameter.get("required"):
                    problems.append(f"{method} {operation.template}: missing {location} parameter {name}")
                continue
            value: Any = raw
            if schema.get("type") == "integer":
                try:
                    value = int(raw)
                except ValueError:
                    problems.append(f"{method} {operation.template}: {name}={raw!r} is not an integer")
                    continue
            problems += [f"{method} {operation.template}: {name}: {p}" for p in self.validate_schema(schema, value)]
        known = {self.resolve(p)["name"] for p in operation.spec.get("parameters", [])
                 if self.resolve(p)["in"] == "query"}
        problems += [f"{method} {operation.template}: unknown query parameter {name}" for name in query
                     if name not in known]
        request_body = operation.spec.get("requestBody")
        if request_body is not None:
            request_body = self.resolve(request_body)
            if not body:
                if request_body.get("required"):
                    problems.append(f"{method} {operation.template}: the request body is required")
            else:
                try:
                    data = json.loads(body)
                except ValueError:
                    problems.append(f"{method} {operation.template}: the body is not JSON")
                else:
                    schema = self.resolve(request_body["content"]["application/json"]["schema"])
                    problems += [f"{method} {operation.template}: body {p}"
                                 for p in self.validate_schema(schema, data)]
        elif body:
            problems.append(f"{method} {operation.template}: takes no request body")
        return operation, path_values, problems


class FakeGitHub:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.spec = Spec()
        self.violations: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.issues: dict[int, dict[str, Any]] = {}
        self.scripted: list[Scripted] = []
        self.read_only = False
        self._next_id = 1000
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeGitHub:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, method: str, path_contains: str, status: int, **headers: str) -> None:
        self.scripted.append(Scripted(method, path_contains, status, {k.replace("_", "-"): v
                                                                        for k, v in headers.items()}))

    def all_comments(self) -> Iterator[dict[str, Any]]:
        for comments in self.comments.values():
            yield from comments

    def _comment(self, number: int, body: str) -> dict[str, Any]:
        self._next_id += 1
        return {"id": self._next_id, "node_id": f"IC_{self._next_id}", "body": body, "issue_number": number,
                "url": f"{self.url}/repos/o/r/issues/comments/{self._next_id}",
                "html_url": f"https://github.com/o/r/pull/{number}#issuecomment-{self._next_id}",
                "user": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
                "created_at": "2026-11-24T12:00:00Z", "updated_at": "2026-11-24T12:00:00Z",
                "author_association": "NONE"}

    def _issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        number = 100 + len(self.issues) + 1
        issue = {"id": 5000 + number, "node_id": f"I_{number}", "number": number, "title": title, "body": body,
                 "state": "open", "state_reason": None, "labels": [{"name": name} for name in labels],
                 "url": f"{self.url}/repos/o/r/issues/{number}", "html_url": f"https://github.com/o/r/issues/{number}",
                 "user": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}, "comments": 0,
                 "created_at": "2026-12-04T03:17:00Z", "updated_at": "2026-12-04T03:17:00Z"}
        self.issues[number] = issue
        return issue

    def _respond(self, method: str, operation: Operation, params: dict[str, str], query: dict[str, list[str]],
                 body: Any) -> tuple[int, Any]:
        template = operation.template
        if self.read_only and method != "GET":
            return 403, {"message": "Resource not accessible by integration", "status": "403"}
        if template == "/repos/{owner}/{repo}/issues":
            if method == "POST":
                return 201, self._issue(body["title"], body.get("body") or "", list(body.get("labels") or []))
            state = query.get("state", ["open"])[-1]
            listed = [issue for issue in self.issues.values() if state == "all" or issue["state"] == state]
            per_page = int(query.get("per_page", ["30"])[-1])
            page = int(query.get("page", ["1"])[-1])
            return 200, listed[(page - 1) * per_page: page * per_page]
        if template == "/repos/{owner}/{repo}/issues/{issue_number}":
            issue = self.issues.get(int(params["issue_number"]))
            if issue is None:
                return 404, {"message": "Not Found"}
            issue.update({key: value for key, value in body.items() if key in ("title", "body", "state",
                                                                               "state_reason")})
            return 200, issue
        if template == "/repos/{owner}/{repo}/issues/{issue_number}/comments":
            comments = self.comments.setdefault(int(params["issue_number"]), [])
            if method == "GET":
                per_page = int(query.get("per_page", ["30"])[-1])
                page = int(query.get("page", ["1"])[-1])
                return 200, comments[(page - 1) * per_page: page * per_page]
            created = self._comment(int(params["issue_number"]), body["body"])
            comments.append(created)
            return 201, created
        if template == "/repos/{owner}/{repo}/issues/comments/{comment_id}":
            comment_id = int(params["comment_id"])
            for comments in self.comments.values():
                for index, comment in enumerate(comments):
                    if comment["id"] == comment_id:
                        if method == "DELETE":
                            del comments[index]
                            return 204, None
                        comment.update(body=body["body"], updated_at="2026-11-24T12:05:00Z")
                        return 200, comment
            return 404, {"message": "Not Found"}
        return 501, {"message": f"the fake does not implement {method} {template}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _serve(self) -> None:
                method = self.command
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.requests.append((method, parts.path))
                    operation, params, problems = fake.spec.check(method, parts.path, query, raw, headers)
                    fake.violations.extend(problems)
                    scripted = next((s for s in fake.scripted
                                     if s.method == method and s.path_contains in parts.path), None)
                    if problems or operation is None:
                        status, payload, extra = 400, {"message": "; ".join(problems)}, {}
                    elif scripted is not None:
                        fake.scripted.remove(scripted)
                        status, payload, extra = scripted.status, {"message": "scripted failure"}, scripted.headers
                    else:
                        status, payload = fake._respond(method, operation, params, query,
                                                        json.loads(raw) if raw else None)
                        extra = {}
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        return Handler
