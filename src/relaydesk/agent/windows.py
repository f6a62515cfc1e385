"""The presenter's windows, as the privacy layer needs them (agent/privacy.py).

``WindowWatch`` keeps, over an X connection of its own, the top-level windows of the
display — the root window's children, in stacking order, bottom to top — with what a
``privacy.Window`` holds: geometry, WM_CLASS, title, EWMH type and struts, the window it
is a dialog of, its shape. It learns of every change from X events (SubstructureNotify
on the root window, PropertyNotify on the root and on every client window, ShapeNotify
on every top-level window) and reads again only what changed: with nothing moving,
``current()`` costs one round trip.

``current()`` first makes sure that every event the X server generated before the call
has been read (a round trip: the server answers in order), so the layout it returns is
the layout of that moment. Its ``generation`` changes with every change: a capture that
reads it before and after grabbing the screen knows whether the windows moved meanwhile
(``agent.presenter``).

Frames and clients: under a reparenting window manager (openbox, and most others) an
application's window sits inside the manager's frame, a child of the root window. The
frame is what covers the screen (its title bar shows the title too); the client names
the application. The watch pairs each frame with its client from ``_NET_CLIENT_LIST``
and from ReparentNotify events, else by looking for a child with WM_STATE; an unmanaged
window (an override-redirect menu or tooltip, every window when no window manager runs)
is its own client.

Not thread-safe: one thread (the presenter's event loop) calls it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from Xlib import X, Xatom
from Xlib import error as xerror
from Xlib.ext import shape

from relaydesk.agent.inject import open_display
from relaydesk.agent.privacy import Focus, Window, WindowKind
from relaydesk.closing import Closing
from relaydesk.errors import CaptureError, InputError
from relaydesk.screen.codec import Move
from relaydesk.screen.picture import Rect

log = logging.getLogger(__name__)

ROOT_EVENTS = X.SubstructureNotifyMask | X.StructureNotifyMask | X.PropertyChangeMask
MAX_DEPTH = 32  # window-tree levels walked up from a focus window or a client
# The client properties the privacy rules read; a change to one is a change of layout.
CLIENT_PROPERTIES = (
    "WM_CLASS", "WM_NAME", "_NET_WM_NAME", "WM_TRANSIENT_FOR", "_NET_WM_WINDOW_TYPE",
    "_NET_WM_STRUT", "_NET_WM_STRUT_PARTIAL",
)  # fmt: skip
_X_FAILURES = (xerror.XError, xerror.ConnectionClosedError, OSError)


@dataclass(frozen=True, slots=True)
class Layout:
    """The screen's top-level windows at one moment, bottom to top (mapped ones only)."""

    generation: int
    width: int
    height: int
    windows: tuple[Window, ...]

    def moves_since(self, earlier: Layout | None) -> list[Move]:
        """The windows that moved, unchanged in size, since ``earlier``: where the screen
        encoder may copy them from (``screen.codec.Move``). A hint, checked pixel for
        pixel by the encoder: a window that also changed inside costs only bytes."""
        if earlier is None or earlier.generation == self.generation:
            return []
        before = {window.id: window.rect for window in earlier.windows}
        moves = []
        for window in self.windows:
            old, new = before.get(window.id), window.rect
            if (
                old is not None
                and old != new
                and (old.width, old.height) == (new.width, new.height)
            ):
                moves.append(Move(new, old.x, old.y))
        return moves


@dataclass(slots=True)
class _Top:
    """A child of the root window, as the events left it."""

    window: Any
    rect: Rect  # border included
    border: int
    mapped: bool
    override_redirect: bool
    input_only: bool
    client: int | None = None  # the window naming the application; None: not looked for
    shape: tuple[Rect, ...] | None = None  # relative to the window's origin
    shape_known: bool = False


@dataclass(slots=True)
class _Props:
    wm_class: tuple[str, ...] = ()
    title: str = ""
    kind: WindowKind = WindowKind.NORMAL
    strut: bool = False
    transient_for: int | None = None  # a client window id


def _id(value: Any) -> int:
    """The id of a python-xlib window object, or the integer X gave (0: none)."""
    return int(value) if isinstance(value, int) else int(value.id)


class WindowWatch(Closing):
    """The top-level windows of one X display, kept up to date from X events."""

    def __init__(self, display: str | None) -> None:
        try:
            self._x = open_display(display)
        except InputError as error:
            raise CaptureError(str(error)) from None
        self._closed = False
        try:
            self._x.set_error_handler(self._on_x_error)
            self._root = self._x.screen().root
            self._atoms = {
                name: self._x.intern_atom(name)
                for name in (
                    *CLIENT_PROPERTIES, "WM_STATE", "UTF8_STRING", "_NET_CLIENT_LIST",
                    "_NET_WM_WINDOW_TYPE_DOCK", "_NET_WM_WINDOW_TYPE_DESKTOP",
                )
            }  # fmt: skip
            self._watched_atoms = {self._atoms[name] for name in CLIENT_PROPERTIES}
            self._has_shape = bool(self._x.has_extension("SHAPE"))
            self._shape_notify = self._x.extension_event.ShapeNotify if self._has_shape else None
            # Events first, then the reads: nothing can change unseen in between.
            self._root.change_attributes(event_mask=ROOT_EVENTS)
            geometry = self._root.get_geometry()
            self.width, self.height = int(geometry.width), int(geometry.height)
        except _X_FAILURES as error:
            self._x.close()
            raise CaptureError(f"cannot follow the windows of the X display: {error}") from None
        self.generation = 0
        self._tops: dict[int, _Top] = {}
        self._order: list[int] = []  # root children, bottom to top
        self._props: dict[int, _Props] = {}  # by client window id
        self._watched: set[int] = set()  # client windows whose property changes we get
        self._client_of_top: dict[int, int] = {}  # frame -> client, from the manager
        self._reparented: list[tuple[int, Any]] = []  # (client, new parent) to resolve
        self._tree_dirty = True
        self._clients_dirty = True
        self._layout: Layout | None = None

    # Public API ------------------------------------------------------------------------

    def current(self) -> Layout:
        """The windows now (every change the X server made before this call included)."""
        try:
            self._drain()
            if self._clients_dirty:
                self._read_clients()
            if self._tree_dirty:
                self._read_tree()
            for client, parent in self._reparented:
                top = self._top_of(parent)
                if top is not None and top != client:
                    self._client_of_top[top] = client
                    self._tops[top].client = None  # looked up again below
            self._reparented.clear()
            layout = self._layout
            if layout is None or layout.generation != self.generation:
                layout = self._layout = self._build()
            return layout
        except (xerror.ConnectionClosedError, OSError) as error:
            raise CaptureError(f"the X display went away: {error}") from None

    def focus(self) -> Focus:
        """Where the keyboard's keys go now."""
        try:
            focused = self._x.get_input_focus().focus
            focus_id = _id(focused)
            if focus_id == X.NONE:
                return Focus()
            if focus_id in (X.PointerRoot, self._root.id):
                pointer = self._root.query_pointer()
                return Focus(pointer=(int(pointer.root_x), int(pointer.root_y)))
            top = self._top_of(focused)
            return Focus(window=top)
        except (xerror.ConnectionClosedError, OSError) as error:
            raise CaptureError(f"the X display went away: {error}") from None
        except xerror.XError:
            return Focus()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._x.close()

    # Events ------------------------------------------------------------------------------

    def _on_x_error(self, error: Any, request: Any) -> None:
        # Windows come and go between an event and a request about them: such errors
        # only mean the window is gone, which its DestroyNotify will say.
        log.debug("X error while following windows: %s", error)

    def _drain(self) -> None:
        self._x.sync()  # every event generated before this moment is queued now
        while self._x.pending_events():
            self._handle(self._x.next_event())

    def _handle(self, event: Any) -> None:
        kind = event.type
        if self._shape_notify is not None and kind == self._shape_notify:
            self._on_shape(event)
            return
        handler = self._HANDLERS.get(kind)
        if handler is not None:
            handler(self, event)

    def _on_shape(self, event: Any) -> None:
        top = self._tops.get(_id(event.window))
        if top is not None:
            top.shape_known = False
            self.generation += 1

    def _on_property(self, event: Any) -> None:
        window = _id(event.window)
        if window == self._root.id:
            if event.atom == self._atoms["_NET_CLIENT_LIST"]:
                self._clients_dirty = True
                self.generation += 1
        elif event.atom in self._watched_atoms and window in self._watched:
            self._props.pop(window, None)  # read again when next needed
            self.generation += 1

    def _on_configure(self, event: Any) -> None:
        window = _id(event.window)
        if window == self._root.id:
            self.width, self.height = int(event.width), int(event.height)
            self.generation += 1
            return
        top = self._tops.get(window)
        if top is None:
            return
        border = int(event.border_width)
        top.border = border
        top.rect = Rect(int(event.x), int(event.y), int(event.width) + 2 * border,
                        int(event.height) + 2 * border)  # fmt: skip
        index = self._order.index(window) if window in self._order else -1
        below = self._order[index - 1] if index > 0 else X.NONE
        if index < 0 or _id(event.above_sibling) != below:
            self._tree_dirty = True  # restacked
        self.generation += 1

    def _on_gravity(self, event: Any) -> None:
        top = self._tops.get(_id(event.window))
        if top is not None:
            top.rect = Rect(int(event.x), int(event.y), top.rect.width, top.rect.height)
            self.generation += 1

    def _on_map(self, event: Any) -> None:
        top = self._tops.get(_id(event.window))
        if top is None:
            self._tree_dirty = True
        else:
            top.mapped = event.type == X.MapNotify
        self.generation += 1

    def _on_reparent(self, event: Any) -> None:
        window = _id(event.window)
        if _id(event.parent) == self._root.id or window in self._tops:
            self._tree_dirty = True
        if _id(event.parent) != self._root.id:
            self._reparented.append((window, event.parent))
        self.generation += 1

    def _on_tree(self, event: Any) -> None:
        if event.type == X.DestroyNotify:
            window = _id(event.window)
            self._props.pop(window, None)
            self._watched.discard(window)
            for top, client in list(self._client_of_top.items()):
                if window in (top, client):
                    del self._client_of_top[top]
        self._tree_dirty = True
        self.generation += 1

    _HANDLERS: ClassVar[dict[int, Callable[[WindowWatch, Any], None]]] = {
        X.PropertyNotify: _on_property,
        X.ConfigureNotify: _on_configure,
        X.GravityNotify: _on_gravity,
        X.MapNotify: _on_map,
        X.UnmapNotify: _on_map,
        X.ReparentNotify: _on_reparent,
        X.CreateNotify: _on_tree,
        X.DestroyNotify: _on_tree,
        X.CirculateNotify: _on_tree,
    }

    # Reading -----------------------------------------------------------------------------

    def _read_clients(self) -> None:
        """Pair frames with clients from the window manager's _NET_CLIENT_LIST."""
        self._clients_dirty = False
        prop = self._root.get_full_property(self._atoms["_NET_CLIENT_LIST"], Xatom.WINDOW)
        clients = [int(value) for value in prop.value] if prop is not None else []
        known = set(self._client_of_top.values())
        for client in clients:
            if client in known:
                continue
            window = self._x.create_resource_object("window", client)
            top = self._top_of(window)
            if top is not None:
                self._client_of_top[top] = client
                if top in self._tops:
                    self._tops[top].client = None
        alive = set(clients)
        for top, client in list(self._client_of_top.items()):
            if client not in alive and top != client:
                # No longer managed (closed, or the manager stopped): look again.
                del self._client_of_top[top]
                if top in self._tops:
                    self._tops[top].client = None

    def _read_tree(self) -> None:
        self._tree_dirty = False
        children = self._root.query_tree().children
        order = [int(child.id) for child in children]
        for child in children:
            if child.id in self._tops:
                continue
            try:
                attributes = child.get_attributes()
                geometry = child.get_geometry()
            except xerror.XError:
                continue  # gone already
            border = int(geometry.border_width)
            self._tops[int(child.id)] = _Top(
                window=child,
                rect=Rect(int(geometry.x), int(geometry.y), int(geometry.width) + 2 * border,
                          int(geometry.height) + 2 * border),
                border=border,
                mapped=attributes.map_state != X.IsUnmapped,
                override_redirect=bool(attributes.override_redirect),
                input_only=attributes.win_class == X.InputOnly,
            )  # fmt: skip
            if self._has_shape and attributes.win_class != X.InputOnly:
                child.shape_select_input(1)
        present = set(order)
        for gone in [top for top in self._tops if top not in present]:
            del self._tops[gone]
        self._order = [top for top in order if top in self._tops]

    def _top_of(self, window: Any) -> int | None:
        """The root child holding ``window`` (itself if it is one), or None."""
        current = window
        for _ in range(MAX_DEPTH):
            window_id = _id(current)
            if window_id in self._tops:
                return window_id
            try:
                parent = current.query_tree().parent
            except xerror.XError:
                return None
            if _id(parent) in (X.NONE, self._root.id):
                return window_id
            current = parent
        return None

    def _client(self, top_id: int, top: _Top) -> int:
        """The window that names ``top``'s application."""
        if top.client is not None:
            return top.client
        client = self._client_of_top.get(top_id)
        if client is None:
            client = top_id
            if not top.override_redirect and not self._has_wm_state(top.window):
                # A frame the manager did not list: the child that has WM_STATE.
                try:
                    children = top.window.query_tree().children
                except xerror.XError:
                    children = []
                for child in reversed(children):
                    if self._has_wm_state(child):
                        client = int(child.id)
                        break
        top.client = client
        return client

    def _has_wm_state(self, window: Any) -> bool:
        try:
            state = window.get_full_property(self._atoms["WM_STATE"], X.AnyPropertyType)
        except xerror.XError:
            return False
        return state is not None

    def _properties(self, client: int) -> _Props:
        props = self._props.get(client)
        if props is not None:
            return props
        window = self._x.create_resource_object("window", client)
        if client not in self._watched:
            window.change_attributes(event_mask=X.PropertyChangeMask)
            self._watched.add(client)
        props = _Props()
        try:
            wm_class = window.get_wm_class()
            props.wm_class = tuple(str(part) for part in wm_class) if wm_class else ()
            props.title = self._title(window)
            types = window.get_full_property(self._atoms["_NET_WM_WINDOW_TYPE"], Xatom.ATOM)
            kinds = set(types.value) if types is not None else set()
            if self._atoms["_NET_WM_WINDOW_TYPE_DOCK"] in kinds:
                props.kind = WindowKind.DOCK
            elif self._atoms["_NET_WM_WINDOW_TYPE_DESKTOP"] in kinds:
                props.kind = WindowKind.DESKTOP
            for name in ("_NET_WM_STRUT_PARTIAL", "_NET_WM_STRUT"):
                strut = window.get_full_property(self._atoms[name], Xatom.CARDINAL)
                if strut is not None and any(int(v) for v in list(strut.value)[:4]):
                    props.strut = True
                    break
            transient = window.get_wm_transient_for()
            props.transient_for = _id(transient) if transient else None
        except xerror.XError:
            pass  # the window went away while being read: its DestroyNotify follows
        self._props[client] = props
        return props

    def _title(self, window: Any) -> str:
        utf8 = window.get_full_property(self._atoms["_NET_WM_NAME"], self._atoms["UTF8_STRING"])
        if utf8 is not None and utf8.value:
            value = utf8.value
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        name = window.get_wm_name()
        if isinstance(name, bytes):
            return name.decode("latin-1")
        return str(name) if name else ""

    def _shape(self, top: _Top) -> tuple[Rect, ...] | None:
        if not self._has_shape:
            return None
        if not top.shape_known:
            top.shape, top.shape_known = None, True
            try:
                extents = top.window.shape_query_extents()
                if extents.bounding_shaped:
                    reply = top.window.shape_get_rectangles(shape.SK.Bounding)
                    top.shape = tuple(
                        Rect(int(r.x), int(r.y), int(r.width), int(r.height))
                        for r in reply.rectangles
                        if r.width > 0 and r.height > 0
                    )
            except xerror.XError:
                top.shape_known = False
        if top.shape is None:
            return None
        left, up = top.rect.x + top.border, top.rect.y + top.border
        return tuple(Rect(left + r.x, up + r.y, r.width, r.height) for r in top.shape)

    def _build(self) -> Layout:
        shown = [
            (top_id, top, self._client(top_id, top))
            for top_id in self._order
            if (top := self._tops[top_id]).mapped and not top.input_only
        ]
        top_of_client = {client: top_id for top_id, _, client in shown}
        windows = []
        for top_id, top, client in shown:
            props = self._properties(client)
            transient = props.transient_for
            owner = None
            if transient is not None:
                owner = top_of_client.get(transient, transient if transient in self._tops else None)
            windows.append(
                Window(
                    id=top_id,
                    rect=top.rect,
                    wm_class=props.wm_class,
                    title=props.title,
                    kind=props.kind,
                    strut=props.strut,
                    transient_for=owner if owner != top_id else None,
                    shape=self._shape(top),
                    override_redirect=top.override_redirect,
                )
            )
        return Layout(self.generation, self.width, self.height, tuple(windows))
