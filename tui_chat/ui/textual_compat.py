"""Every reach into Textual's private API, in one place, for the version it was written for.

Each works around a gap or a bug of Textual 8.2.8 (see docs/upstream.md for the two worth
reporting). An upgrade of Textual must look at each of them again: the version is pinned
in pyproject.toml, and a test fails when the installed one is not ``WRITTEN_FOR``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import textual
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual._compositor import Compositor, LayoutUpdate
from textual._xterm_parser import XTermParser
from textual.app import App
from textual.color import Color
from textual.geometry import Region, Size
from textual.screen import Screen
from textual.strip import Strip
from textual.style import Style as TextualStyle
from textual.widget import Widget

WRITTEN_FOR = "8.2.8"
"""The Textual version whose private API this module uses."""

log = logging.getLogger(__name__)


def installed_textual() -> str:
    """The installed Textual's version, from the name of its dist-info folder ("" when
    it is installed some other way): importlib.metadata would add its own import, and
    the email and zip modules it brings, to every start."""
    found = list(Path(textual.__file__).parent.parent.glob("textual-*.dist-info"))
    return found[0].name[len("textual-") : -len(".dist-info")] if len(found) == 1 else ""


if installed_textual() not in (WRITTEN_FOR, ""):  # pragma: no cover (the pin keeps it so)
    log.warning("Textual %s, not %s: check tui_chat/ui/textual_compat.py",
                installed_textual(), WRITTEN_FOR)  # fmt: skip


class SizedOnce:
    """For widgets that cannot scroll: a new virtual size asks for no second layout.

    Textual lays a widget out, then sets its virtual size, which by default asks for
    another layout of the whole screen (``Widget._size_updated``): two layouts and two
    repaints for every message sent and every streamed Markdown update, taken from the
    model's CPU. Only a widget that can scroll (overflow auto or scroll) needs that layout,
    for its scrollbars. (A gap: Textual has no public way to say so.)
    """

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        styles = self.styles  # type: ignore[attr-defined]
        scrolls = {styles.overflow_x, styles.overflow_y} & {"auto", "scroll"}
        return super()._size_updated(  # type: ignore[misc]
            size, virtual_size, container_size, layout=layout and bool(scrolls)
        )


class GrowsInPlace(SizedOnce):
    """For a widget that grows or shrinks at its end (a streaming reply): a new height
    repaints the lines the widget said changed, not all of its lines.

    Textual marks a widget whose size changed dirty all over (``Widget._size_updated``):
    every line of it on screen is rendered again, a screenful of a long reply at each
    update that adds a line. Lines keep their place when only the height changes.
    """

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        old = self._size  # type: ignore[has-type]
        if old.width == size.width and old.height and old.height != size.height:
            self._size = size  # Textual then keeps the lines already rendered
        return super()._size_updated(size, virtual_size, container_size, layout=layout)


class ScrolledOnce:
    """For the chat log, which scrolls: a new virtual size asks for no second layout.

    It would follow the layout that just arranged the log (and, anchored, scrolled it to
    the end): a second full repaint of the log at each message sent once the log fills
    the screen, in CPU taken from the model reading the prompt. The scrollbar does not need it:
    its thumb is updated here, and showing or hiding it asks for its own layout.
    """

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        changed: bool = super()._size_updated(  # type: ignore[misc]
            size, virtual_size, container_size, layout=False
        )
        scrollbar = self._vertical_scrollbar  # type: ignore[attr-defined]
        screen = self.screen  # type: ignore[attr-defined]
        if changed and scrollbar is not None and screen.is_current and not self.app._batch_count:  # type: ignore[attr-defined]
            # Textual asks for the thumb to be drawn in the next update, but the layout
            # under way draws it already when the log moved (scrolled to its end).
            place = screen._compositor.visible_widgets.get(scrollbar)
            if place and any(
                r.contains_region(place[0]) for r in screen._compositor._dirty_regions
            ):
                scrollbar._repaint_required = False
                scrollbar._exchange_repaint_regions()
        return changed


TerminalInputParser = XTermParser
"""Textual's parser of terminal input, for ``ui.paste_parser`` to build on (it takes a
bracketed paste whole: Textual 8.2.8 lets an ESC inside a paste end it, docs/upstream.md)."""


def use_input_parser(parser: type[Any]) -> None:
    """Make Textual's Linux/macOS driver read input with ``parser`` (Textual has no
    setting for it: the driver names its parser class at module level)."""
    try:
        from textual.drivers import linux_driver
    except ImportError:  # pragma: no cover (Windows)
        return
    linux_driver.XTermParser = parser  # type: ignore[misc]


class QuietFailure(App[Any]):
    """An app whose internal error ends it without Textual's traceback on the terminal.

    Textual prints the traceback of an exception that escaped a handler, local variables
    (the chat's text among them) and all. Its hooks for that are private
    (``_handle_exception``, ``_fatal_error``): here they call ``internal_error``, which
    the app overrides, and then end the app.
    """

    _fault: BaseException | None = None

    def _handle_exception(self, error: Exception) -> None:
        self._fault = error
        super()._handle_exception(error)

    def _fatal_error(self) -> None:
        self.internal_error(self._fault)
        self.exit(return_code=1)
        self._close_messages_no_wait()  # as Textual's own: the queue may hold more trouble

    def internal_error(self, error: BaseException | None) -> None:
        """An exception escaped a handler and the app ends: say so somewhere useful."""


class _RowsCroppedCompositor(Compositor):
    """Textual's compositor, drawing only the rows that changed in a partial update, of
    the widgets that show there.

    Textual 8.2.8 picks the widgets a partial update touches by their clip, which for a
    widget not in a scrolling container is the whole screen, and then renders all of
    each widget's visible lines: the screen, its views, the log and its scrollbar, the
    input, the footer, ~300 lines of styles and filters to show one line of a streaming
    reply (about 2 ms on a small machine, at every update). Here each widget renders
    only the rows of the update's crop (the columns stay whole, as Textual's cuts want),
    and a widget that shows nowhere in the crop (hidden there by those in front of it,
    as the containers behind a reply are, or beside it) is not rendered at all: Textual
    paints front to back and would throw its lines away.
    """

    def _get_renders(
        self, crop: Region | None = None
    ) -> Iterable[tuple[Region, Region, list[Strip]]]:
        if crop is None:
            yield from super()._get_renders(None)
            return
        covered: dict[int, list[tuple[int, int]]] = {}  # row -> spans drawn in front
        top, bottom = crop.y, crop.bottom
        for widget, (region, clip) in self.visible_widgets.items():  # front to back
            if region.y >= bottom or region.y + region.height <= top:
                continue  # not in the update's rows (most widgets: a quick test first)
            rows = clip.intersection(Region(clip.x, crop.y, clip.width, crop.height))
            x, y, width, height = region.intersection(rows)
            if not (width and height):
                continue
            # Only the update's columns are sent out: a widget that shows nowhere in
            # them (the log's padding beside a reply's line) need not be drawn.
            left, right = max(x, crop.x), min(x + width, crop.right)
            if left >= right or all(
                _within(covered.get(row, ()), left, right) for row in range(y, y + height)
            ):
                continue  # outside the update, or hidden by the widgets in front of it
            for row in range(y, y + height):
                covered.setdefault(row, []).append((x, x + width))
            lines = Region(x - region.x, y - region.y, width, height)
            yield region, rows, widget.render_lines(lines)

    _in_front: tuple[object, Widget, tuple[Region, Region] | None] | None = None

    def shown_in_front(self, widget: Widget) -> tuple[Region, Region] | None:
        """``widget``'s region and clip when no widget is drawn over any of it, else None
        (a toast, a tooltip, a layer above it): then only the compositor may draw it."""
        visible = self.visible_widgets  # a new dict after each layout or scroll
        cached = self._in_front
        if cached is not None and cached[0] is visible and cached[1] is widget:
            return cached[2]
        place = visible.get(widget)
        if place is not None:
            shown = place[0].intersection(place[1])
            for other, (region, clip) in visible.items():  # front to back
                if other is widget:
                    break
                if region.intersection(clip).overlaps(shown):
                    place = None
                    break
        self._in_front = (visible, widget, place)
        return place


def _within(spans: Iterable[tuple[int, int]], start: int, end: int) -> bool:
    """``start``..``end`` lies in the union of ``spans``."""
    for left, right in sorted(spans):
        if left > start:
            return False
        start = max(start, right)
        if start >= end:
            return True
    return start >= end


def draw_changed_rows_only(screen: Screen[Any]) -> None:
    """Make ``screen``'s partial updates render only the rows they change (call it
    before the screen is first drawn)."""
    screen._compositor = _RowsCroppedCompositor()


def paint_now(widget: Any, region: Region) -> None:
    """Repaint ``region`` of ``widget`` (content coordinates) on the terminal now.

    ``Widget.refresh`` gets there through three message loops and a timer (a prompt to
    the widget, its idle handler, an update message to the screen, the screen's idle
    handler, its update timer): as much CPU as drawing a line of a streaming reply. This
    is what they end in, for a widget whose size and place did not change; anything else
    (a layout or scroll pending, a batch of updates open) takes Textual's own way. When
    no widget is drawn over this one, its lines go to the terminal as they are.
    """
    screen = widget.screen
    if (
        widget.app._batch_count
        or widget.app.is_inline
        or screen is not widget.app.screen  # under a dialog: Textual draws around it
        or screen._layout_required
        or screen._scroll_required
        or widget._layout_required
    ):
        widget.refresh(region)
        return
    compositor = screen._compositor
    place = (
        compositor.shown_in_front(widget)
        if isinstance(compositor, _RowsCroppedCompositor)
        else None
    )
    if place is None:
        widget._set_dirty(region)
        screen._dirty_widgets.add(widget)
        compositor.update_widgets(screen._dirty_widgets)
        screen._compositor_refresh()
        return
    # Nothing is drawn over the widget: its rows are what the compositor would send
    # (it draws front to back, each cell from the first widget there), without its
    # bookkeeping of dirty regions, cuts and chops for every row of the screen.
    (x, y, width, _), clip = place
    rows = Region(0, region.y + widget.content_offset.y, width, region.height)
    widget._styles_cache.set_dirty(rows)  # lines it may have kept are stale
    shown = rows.translate((x, y)).intersection(clip)
    if shown:
        crop = shown.translate((-x, -y))
        lines = [[line] for line in widget.render_lines(crop)]  # a line may be in parts
        screen.app._display(screen, LayoutUpdate(lines, shown))


def style_key(widget: Any) -> tuple[int, ...]:
    """A key that changes whenever a style of ``widget`` or of one of its ancestors does
    (a theme, a class): what ``DOMNode.rich_style`` depends on, which Textual computes
    afresh, walking up the DOM, at each call (a tenth of a streaming update's CPU)."""
    return tuple(node.styles._cache_key for node in widget.ancestors_with_self)


def after_each_frame(screen: Screen[Any], callback: Callable[[], None]) -> None:
    """Call ``callback`` after each update of ``screen`` is sent to the terminal (for the
    bench: Textual has no public event for a frame sent out)."""
    app = screen.app
    display = app._display

    def displayed(shown: Screen[Any], update: Any) -> None:
        display(shown, update)
        if shown is screen and update is not None:
            callback()

    app._display = displayed  # type: ignore[method-assign]


class PlainBoxLines:
    """Draws a widget's lines as Textual's styles cache does for a plain box (no border,
    outline, tint, hatch, title or vertical padding, fully opaque), with what they depend
    on looked up once per style and size.

    ``StylesCache.render_widget`` looks up the widget's region, content region, padding,
    background colours (walking up the DOM), opacity and theme for each call, then runs
    its general line pipeline: twice the CPU of the line itself for a streaming update.
    Any box this does not cover is left to Textual (``lines`` returns None).
    """

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._plain = False
        self._background = Color(0, 0, 0, 0)
        self._inner: RichStyle | None = None
        self._left: tuple[Segment, ...] = ()
        self._right: tuple[Segment, ...] = ()
        self._content = Size(0, 0)

    def lines(self, widget: Widget, crop: Region) -> list[Strip] | None:
        """``widget``'s lines in ``crop`` (widget coordinates), or None: ask Textual."""
        size = widget.outer_size
        key = (style_key(widget), size)
        if key != self._key:
            self._prepare(widget, size)
            self._key = key
        if not self._plain or widget._border_title or widget._border_subtitle:
            return None
        width, (content_width, content_height) = size.width, self._content
        inner, left, right = self._inner, self._left, self._right
        filters, background = widget.app.get_line_filters(), self._background
        strips = []
        for y in crop.line_range:
            if y < content_height:
                line = widget.render_line(y).adjust_cell_length(content_width, inner)
            else:
                line = Strip.blank(content_width, inner)
            strip = Strip([*left, *line, *right], width)
            for line_filter in filters:
                strip = strip.apply_filter(line_filter, background)
            strips.append(strip)
        if crop.column_span != (0, width):
            x1, x2 = crop.column_span
            strips = [strip.crop(x1, x2) for strip in strips]
        if widget.auto_links:  # as render_widget does
            hover = widget.hover_style
            if hover._link_id and hover._meta and "@click" in hover.meta:
                link_style = widget.link_style_hover
                if link_style:
                    strips = [strip.style_links(hover.link_id, link_style) for strip in strips]
        return strips

    def _prepare(self, widget: Widget, size: Size) -> None:
        styles = widget.styles
        top, right, bottom, left = styles.padding
        self._plain = (
            not any(edge for edge, _ in styles.border)
            and not any(edge for edge, _ in styles.outline)
            and not (top or bottom)
            and not styles.tint.a
            and styles.text_opacity == 1.0
            and widget.opacity == 1.0
            and not (styles.has_rule("hatch") and styles.hatch != "none")
            and not widget.BLANK
        )
        if not self._plain:
            return
        base, background = widget.background_colors
        inner = TextualStyle(background=base + background).rich_style
        self._background, self._inner = background, inner
        self._left = (Segment(" " * left, inner),) if left else ()
        self._right = (Segment(" " * right, inner),) if right else ()
        self._content = Size(max(0, size.width - left - right), size.height)
