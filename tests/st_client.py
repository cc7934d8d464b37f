"""A headless Streamlit client for load tests: one websocket session on a running server, no browser.

It speaks the protocol the browser speaks (Streamlit 1.67): protobuf ``BackMsg`` / ``ForwardMsg``
frames on ``/_stcore/stream``, file uploads by ``file_urls_request`` then an HTTP PUT to the
returned URL (with the XSRF cookie and header), reruns with widget states. It renders nothing,
so twenty sessions cost the server what twenty users cost it, and the test machine almost
nothing (twenty Chromium tabs cost 6x the server's CPU on the 2-core dev machine).

    with StreamlitClient(url) as s:
        run = s.run("try_a_face")                         # the page's first run
        uploader = run.widget_id("file_uploader", "taf_upload")
        run = s.upload_and_rerun("try_a_face", uploader, "photo.jpg", data)
        assert not run.exceptions and "faces** found" in run.text()

Only what the load tests need: no fragments, no cached-message references (the client never
announces cached hashes, so the server always sends whole messages).
"""
from __future__ import annotations

import itertools
import time
import urllib.request
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLs, FileURLsRequest, FileUploaderState, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

XSRF_COOKIE = "_streamlit_xsrf"
_ids = itertools.count()


@dataclass
class Run:
    """What one script run sent: its elements (Element protos) in order, and how it ended."""

    elements: list = field(default_factory=list)
    finished: int | None = None  # ForwardMsg.ScriptFinishedStatus

    def of(self, kind: str) -> list:
        """Elements of one kind ('markdown', 'alert', 'exception', 'heading', 'file_uploader', ...)."""
        return [getattr(e, kind) for e in self.elements if e.WhichOneof("type") == kind]

    @property
    def exceptions(self) -> list[str]:
        return [f"{e.type}: {e.message}" for e in self.of("exception")]

    @property
    def errors(self) -> list[str]:
        return [a.body for a in self.of("alert") if a.format == a.ERROR]

    def text(self) -> str:
        """Markdown, headings and alerts of the run, one per line."""
        return "\n".join(e.body for k in ("markdown", "heading", "alert") for e in self.of(k))

    def widget_id(self, kind: str, key: str) -> str:
        """The id of the widget of `kind` whose user key is `key` (ids end with the key)."""
        ids = [w.id for w in self.of(kind) if w.id.endswith(key)]
        if len(ids) != 1:
            raise LookupError(f"{kind} {key!r}: found {[w.id for w in self.of(kind)]}")
        return ids[0]


class StreamlitClient:
    """One session on a Streamlit server at `url` (http://host:port)."""

    def __init__(self, url: str, *, timeout_s: float = 120):
        from websockets.sync.client import connect

        self.url, self.timeout_s = url.rstrip("/"), timeout_s
        with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=timeout_s) as r:  # sets the XSRF cookie
            cookies = [c.split(";", 1)[0] for c in r.headers.get_all("Set-Cookie") or []]
        self.xsrf = next((c.split("=", 1)[1] for c in cookies if c.startswith(XSRF_COOKIE + "=")), "")
        ws_url = "ws" + self.url[len("http"):] + "/_stcore/stream"
        self.ws = connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=timeout_s,
                          additional_headers={"Cookie": "; ".join(cookies)} if cookies else None).__enter__()
        self.session_id = ""

    def __enter__(self) -> "StreamlitClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.ws.close()

    # ---- messages -------------------------------------------------------------------------
    def _send(self, msg: BackMsg) -> None:
        self.ws.send(msg.SerializeToString())

    def _recv(self, deadline: float) -> ForwardMsg:
        msg = ForwardMsg()
        msg.ParseFromString(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if msg.WhichOneof("type") == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
        return msg

    def run(self, page: str, widgets: list[WidgetState] | None = None) -> Run:
        """Rerun the app on `page` (its url path) with `widgets` set; wait for the run to finish."""
        back = BackMsg()
        cs = back.rerun_script
        cs.page_name = page
        cs.widget_states.widgets.extend(widgets or [])
        self._send(back)
        run, deadline = Run(), time.monotonic() + self.timeout_s
        while True:
            msg = self._recv(deadline)
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                run.elements.append(msg.delta.new_element)
            elif kind == "script_finished":
                run.finished = msg.script_finished
                if msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    return run
                run = Run()

    # ---- uploads --------------------------------------------------------------------------
    def upload(self, name: str, data: bytes, mime: str = "application/octet-stream") -> UploadedFileInfo:
        """Ask for an upload URL, PUT the file there; returns the info a file_uploader state holds."""
        rid = f"load-{next(_ids)}"
        back = BackMsg()
        back.file_urls_request.CopyFrom(FileURLsRequest(request_id=rid, file_names=[name],
                                                        session_id=self.session_id))
        self._send(back)
        deadline = time.monotonic() + self.timeout_s
        while True:
            msg = self._recv(deadline)
            if msg.WhichOneof("type") == "file_urls_response" and msg.file_urls_response.response_id == rid:
                break
        resp = msg.file_urls_response
        if resp.error_msg:
            raise RuntimeError(f"upload of {name} refused: {resp.error_msg}")
        urls: FileURLs = resp.file_urls[0]
        upload_url = urls.upload_url if urls.upload_url.startswith("http") else self.url + urls.upload_url
        boundary = f"----fer-load-{next(_ids)}"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: {mime}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        req = urllib.request.Request(upload_url, data=body, method="PUT", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-Xsrftoken": self.xsrf, "Cookie": f"{XSRF_COOKIE}={self.xsrf}"})
        with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
            if r.status not in (200, 204):
                raise RuntimeError(f"upload of {name}: HTTP {r.status}")
        return UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id, file_urls=urls)

    def upload_and_rerun(self, page: str, uploader_id: str, name: str, data: bytes, *,
                         widgets: list[WidgetState] | None = None) -> Run:
        """Upload one file into the file_uploader `uploader_id` and rerun, as a browser does."""
        info = self.upload(name, data)
        state = WidgetState(id=uploader_id)
        state.file_uploader_state_value.CopyFrom(FileUploaderState(uploaded_file_info=[info]))
        return self.run(page, [*(widgets or []), state])
