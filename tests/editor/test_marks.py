"""The editor's pure core: boxes from drags, the undo stack, suggestions still to accept."""

from __future__ import annotations

import pytest

from snapask_desktop.editor.marks import (
    LABEL_MAX_CHARS,
    Arrow,
    EditList,
    Frame,
    Redaction,
    arrow_shape,
    box_between,
    clean_label,
    grow,
    is_empty,
    pending_suggestions,
)


def test_a_drag_covers_every_pixel_it_touches_in_any_direction_and_stays_in_the_picture():
    size = (100, 50)
    assert box_between((10, 5), (30, 25), size) == (10, 5, 30, 25)
    assert box_between((30, 25), (10, 5), size) == (10, 5, 30, 25)  # dragged up and left
    assert box_between((10.5, 5.2), (29.1, 24.9), size) == (10, 5, 30, 25)  # outwards
    assert box_between((-20, -3), (500, 70), size) == (0, 0, 100, 50)
    assert is_empty(box_between((10, 5), (10, 30), size))  # a click is no box
    assert is_empty(box_between((120, 60), (150, 90), size))  # wholly outside


def test_grow_pads_and_clips():
    assert grow((1, 2, 8, 9), 2, (10, 10)) == (0, 0, 10, 10)
    assert grow((4, 4, 5, 5), 2, (10, 10)) == (2, 2, 7, 7)


def test_undo_and_redo_step_by_step_and_a_new_mark_drops_what_was_undone():
    edits = EditList()
    a, b, c = Redaction((0, 0, 4, 4)), Frame((1, 1, 9, 9)), Arrow((0, 0), (5, 5))
    assert not edits.can_undo and not edits.undo() and not edits.redo()
    edits.add(a)
    edits.add(b, c)  # one step: accepting several suggestions at once
    assert edits.marks == (a, b, c)
    assert edits.undo() and edits.marks == (a,)
    assert edits.can_redo and edits.redo() and edits.marks == (a, b, c)
    edits.undo()
    edits.add(c)
    assert edits.marks == (a, c) and not edits.can_redo
    assert edits.redaction_count == 1 and edits.markup_count == 1


def test_suggestions_covered_by_a_redaction_are_no_longer_pending():
    one, two = Redaction((10, 10, 40, 20), "email"), Redaction((10, 30, 60, 40), "password")
    assert pending_suggestions([one, two], []) == [one, two]
    assert pending_suggestions([one, two], [Redaction((0, 0, 50, 25))]) == [two]
    assert pending_suggestions([one, two], [Frame((0, 0, 100, 100))]) == [one, two]  # not hidden


def test_labels_are_one_short_line():
    assert clean_label("  what is\nthis   button? ") == "what is this button?"
    long = clean_label("x" * 100)
    assert len(long) == LABEL_MAX_CHARS and long.endswith("…")


@pytest.mark.parametrize("end", [(100, 0), (0, 100), (-70, -70), (3, 1)])
def test_the_arrow_head_points_at_the_end_and_the_shaft_stops_inside_it(end):
    arrow = Arrow((0, 0), end, width=4)
    shaft_end, head = arrow_shape(arrow)
    assert head[0] == end
    # the shaft's end lies on the segment, no further than the head's tip
    length = (end[0] ** 2 + end[1] ** 2) ** 0.5
    along = (shaft_end[0] * end[0] + shaft_end[1] * end[1]) / length
    assert 0 <= along <= length
