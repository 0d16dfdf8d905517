"""LineRanges against a plain set of byte positions; line ids read from record keys, one by one and a
chunk at once."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from logstream.line_ids import (OFFSET_DIGITS, LandedLines, LineDedup, LineRanges, joined_keys, line_id, line_runs,
                                lines_of_runs, make_line_id, parse_landed_row, parse_line_ids)

FILES = ("web1 11-aa", "web2 12-bb")
ranges_added = st.lists(st.tuples(st.sampled_from(FILES), st.integers(0, 300), st.integers(1, 40)), max_size=60)


def _positions(added) -> dict[str, set[int]]:
    covered: dict[str, set[int]] = {file: set() for file in FILES}
    for file, start, length in added:
        covered[file].update(range(start, start + length))
    return covered


@settings(max_examples=300, deadline=None)
@given(added=ranges_added, other=ranges_added)
def test_ranges_hold_exactly_the_bytes_added(added, other):
    ranges = LineRanges()
    for file, start, length in added:
        ranges.add(file, start, start + length)
    covered = _positions(added)
    for file in FILES:
        assert {at for at in range(0, 360) if ranges.covers(file, at)} == covered[file]
        pairs = ranges.ranges(file)
        # merged: in order, neither overlapping nor touching
        assert all(a < b < c for (a, b), (c, _d) in zip(pairs, pairs[1:]))
        assert sum(end - start for start, end in pairs) == len(covered[file])

    second = LineRanges()
    for file, start, length in other:
        second.add(file, start, start + length)
    others = _positions(other)
    assert ranges.overlaps(second) == any(covered[file] & others[file] for file in FILES)

    assert LineRanges.from_json(ranges.to_json()) == ranges
    both = ranges.copy()
    both.update(second)
    assert _positions(added + other) == {file: {at for at in range(0, 360) if both.covers(file, at)} for file in FILES}
    assert ranges == LineRanges.from_json(ranges.to_json())  # update() left the original alone


def test_line_id_from_the_key():
    assert line_id(b"ls1 web1 1835-9a0c 120 171") == ("web1 1835-9a0c", 120, 171)
    assert line_id("ls1 web1 1835-9a0c 120 171") == ("web1 1835-9a0c", 120, 171)  # as the spout passes it on
    assert line_id(None) is None and line_id(b"") is None
    # another key, another format, a part missing, not a number, not a range: no id, the record is taken
    assert line_id(b"web1") is None
    assert line_id(b"ls2 web1 1835-9a0c 120 171") is None
    assert line_id(b"ls1 web1 120 171") is None
    assert line_id(b"ls1 web1 1835-9a0c x 171") is None
    assert line_id(b"ls1 web1 1835-9a0c 171 120") is None
    assert line_id(b"ls1 web\xff 1835-9a0c 120 171") is None


def test_dedup_keeps_each_line_once_whatever_the_order():
    committed = LineRanges()
    committed.add("web1 1-a", 0, 100, 5)
    dedup = LineDedup(committed)

    def ids(start, end):
        return b"ls1 web1 1-a %d %d" % (start, end)

    taken = [dedup.keep(ids(s, e), 10) for s, e in [(50, 60), (100, 150), (200, 250), (150, 200), (120, 150), (0, 9)]]
    assert taken == [False, True, True, True, False, False]
    assert dedup.copies == 3
    assert dedup.taken.ranges("web1 1-a") == [(100, 250)]
    assert dedup.covered.ranges("web1 1-a") == [(0, 250)]
    assert committed.ranges("web1 1-a") == [(0, 100)]
    assert dedup.keep(None, 10) and dedup.keep(b"web1", 10)  # no id: always taken


def test_files_idle_for_long_are_forgotten():
    ranges = LineRanges()
    day = 86_400_000
    ranges.add("web1 1-a", 0, 10, 100 * day)
    ranges.add("web2 2-b", 0, 10, 69 * day)
    ranges.add("web3 3-c", 0, 10, 71 * day)
    assert ranges.forget_idle(30 * day) == ["web2 2-b"]
    assert sorted(ranges.files) == ["web1 1-a", "web3 3-c"]


def _key(host: bytes, file_id: bytes, start: int, end: int) -> bytes:
    return b"ls1 %s %s %d %d" % (host, file_id, start, end)


chunks = st.lists(st.tuples(st.sampled_from([b"web1", b"web2"]), st.integers(0, 12), st.integers(1, 3)),
                  min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(committed=st.lists(st.tuples(st.sampled_from([b"web1", b"web2"]), st.integers(0, 40), st.integers(1, 5)),
                          max_size=4),
       chunk=chunks, adjacent=st.booleans(), text=st.booleans())
def test_a_chunk_taken_at_once_is_taken_as_record_by_record(committed, chunk, adjacent, text):
    """keep_all takes a chunk only when record by record would take every record, and then ends in
    the same state."""
    before = LineRanges()
    for host, start, length in committed:
        before.add(f"{host.decode()} 9-f", start, start + length, 1)
    ends = {b"web1": 20, b"web2": 30}
    headers = []
    for host, gap, length in chunk:
        start = ends[host] + (0 if adjacent else gap)
        ends[host] = start + length
        key = _key(host, b"9-f", start, start + length)
        headers.append(key.decode() if text else key)  # bytes from Kafka, str from the spout
    stamps = list(range(5, 5 + len(headers)))

    at_once, one_by_one = LineDedup(before), LineDedup(before)
    kept = [one_by_one.keep(found, stamp) for found, stamp in zip(headers, stamps)]
    took = at_once.keep_all(headers, max(stamps))
    if adjacent and not committed:
        assert took  # the common case: the fast path is used
    if took:
        assert all(kept)
        assert at_once.covered.files == one_by_one.covered.files and at_once.taken.files == one_by_one.taken.files
    else:
        assert (at_once.covered, at_once.taken) == (LineDedup(before).covered, LineRanges())  # nothing taken


def test_keep_all_refuses_what_it_cannot_take_at_once():
    dedup = LineDedup(LineRanges())
    assert dedup.keep_all([_key(b"web1", b"9-f", 0, 10), _key(b"web1", b"9-f", 10, 20)], 2)
    assert dedup.taken.ranges("web1 9-f") == [(0, 20)]
    assert not dedup.keep_all([_key(b"web1", b"9-f", 20, 30), _key(b"web1", b"9-f", 5, 10)], 4)  # a copy
    assert not dedup.keep_all([_key(b"web1", b"9-f", 20, 30), None], 4)  # one without a key
    assert not dedup.keep_all([_key(b"web1", b"9-f", 20, 30), b"web1"], 4)  # one with another key
    assert not dedup.keep_all([_key(b"web1", b"9-f", 20, 30), _key(b"web1", b"9-f", 20, 30)], 4)
    assert not dedup.keep_all([_key(b"web1", b"9-f", 20, 30), _key(b"web1", b"9-f", 30, 30)], 4)
    assert not dedup.keep_all([_key(b"web1", b"9-f", 20, 30), _key(b"web1", b"9-f", 30, 40).decode()], 4)
    assert dedup.taken.ranges("web1 9-f") == [(0, 20)]


@settings(max_examples=300, deadline=None)
@given(files=st.lists(st.lists(st.integers(1, 30), min_size=1, max_size=30), min_size=1, max_size=3),
       left_out=st.lists(st.integers(0, 100), max_size=10), others=st.booleans(), shuffle=st.randoms(use_true_random=False),
       cut=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_a_chunks_runs_but_the_lines_left_out_equal_its_other_lines_one_by_one(files, left_out, others, shuffle, cut):
    """keep_all's runs minus a few records' lines (those filed one by one), for the whole chunk and
    for the records of an offset range (an hour's entries), give the rows adding each remaining line
    gives; keys of other kinds among the left-out records change nothing."""
    per_file = [[_key(b"web%d" % number, b"9-f", sum(lengths[:i]), sum(lengths[:i + 1])) for i in range(len(lengths))]
                for number, lengths in enumerate(files)]
    # the files' lines interleaved, each file's in its order
    keys = []
    while any(per_file):
        keys.append(shuffle.choice([lines for lines in per_file if lines]).pop(0))
    offsets = [100 + 2 * at for at in range(len(keys))]
    dedup = LineDedup(LineRanges())
    assert dedup.keep_all(keys, 1, offsets)
    removed = sorted({at % len(keys) for at in left_out})
    left = [keys[at] for at in removed] + ([None, b"another key", _key(b"web9", b"1-a", 0, 4)] if others else [])
    low, high = sorted(offsets[int(share * (len(keys) - 1))] for share in cut)
    for within in (None, (low, high)):
        at_once, one_by_one = LandedLines(), LandedLines()
        at_once.add_runs_except(dedup.chunk_runs, left, within)
        for at, key in enumerate(keys):
            if at not in removed and (within is None or within[0] <= offsets[at] <= within[1]):
                one_by_one.add(*line_id(key))
        assert at_once.rows() == one_by_one.rows()


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.tuples(st.sampled_from(FILES), st.integers(0, 30), st.integers(1, 3)), max_size=40),
       order=st.randoms(use_true_random=False))
def test_side_index_rows_hold_each_line_added_and_show_overlaps(lines, order):
    """Lines of 10-byte slots added in any order: the rows cover exactly the bytes added, tell every
    line, and a byte added twice is in two rows (rows of a file overlap exactly where lines repeat)."""
    added = [(file, slot * 10, slot * 10 + 10 * width) for file, slot, width in lines]
    order.shuffle(added)
    landed = LandedLines()
    for file, start, end in added:
        landed.add(file, start, end)
    rows = [parse_landed_row(row) for row in landed.rows()]
    assert sum(lines for *_, lines in rows) == len(added)
    for file in FILES:
        held: dict[int, int] = {}
        for _, start, end in (line for line in added if line[0] == file):
            for at in range(start, end):
                held[at] = held.get(at, 0) + 1
        in_rows: dict[int, int] = {}
        for _, start, end, _lines in (row for row in rows if row[0] == file):
            for at in range(start, end):
                in_rows[at] = in_rows.get(at, 0) + 1
        assert in_rows == held
        mine = sorted((start, end) for name, start, end, _ in rows if name == file)
        # merged where they touch: no two rows of a file meet end to start
        assert all(a[1] != b[0] for a, b in zip(mine, mine[1:]))


def _words(key: bytes | str) -> tuple[str, int, int] | None:
    """A key read as the test reads it: five words split on whitespace, ``ls1``, two integers; the
    order of the offsets is not judged here."""
    if key is None:
        return None
    words = (key.decode("ascii", "replace") if isinstance(key, bytes) else key).split()
    if len(words) != 5 or words[0] != "ls1" or not all(word.isascii() for word in words):
        return None
    try:
        return f"{words[1]} {words[2]}", int(words[3]), int(words[4])
    except ValueError:
        return None


def _check_chunk(keys: list) -> None:
    """parse_line_ids either refuses the chunk or reads every key as _words does, with each file's
    records in order; it refuses none that the L1 could write. The keys as one text (what the spout
    sends) read the same."""
    parsed = parse_line_ids(keys)
    if all(isinstance(key, bytes) for key in keys):
        as_text = joined_keys(keys)
        if as_text is not None:
            again = parse_line_ids(as_text)
            assert (again is None) == (parsed is None)
            if parsed is not None:
                assert again[0].tolist() == parsed[0].tolist() and again[1].tolist() == parsed[1].tolist()
                assert {name: None if rows is None else rows.tolist() for name, rows in again[2].items()} == \
                    {name: None if rows is None else rows.tolist() for name, rows in parsed[2].items()}
    read = [_words(key) for key in keys]
    if parsed is None:
        the_l1s = all(isinstance(key, type(keys[0])) and key is not None
                      and all(32 <= byte <= 126 for byte in (key if isinstance(key, bytes) else key.encode()))
                      and (key if isinstance(key, bytes) else key.encode()) == make_line_id(*_l1_parts(key))
                      and all(_l1_parts(key)[:2]) and max(_l1_parts(key)[2:]) < 10**18
                      for key in keys)  # printable ASCII, a host and a file id, single spaces, padded offsets
        # (below 10^18: a longer offset, a file past an exabyte, goes record by record)
        assert not the_l1s, keys
        return
    starts, ends, files = parsed
    assert None not in read
    assert [(int(a), int(b)) for a, b in zip(starts, ends)] == [(start, end) for _, start, end in read]
    expected: dict[str, list[int]] = {}
    for at, (file, _, _) in enumerate(read):
        expected.setdefault(file, []).append(at)
    assert {file: list(range(len(keys))) if rows is None else rows.tolist() for file, rows in files.items()} == expected
    assert len(files) == 1 or all(rows is not None for rows in files.values())


def _l1_parts(key: bytes | str) -> tuple[str, str, int, int]:
    """A key's host, file id and offsets if it is in the L1's form (else parts that make no such key)."""
    words = (key.decode("latin-1") if isinstance(key, bytes) else key).split(" ")
    try:
        return words[1], words[2], int(words[3]), int(words[4])
    except (IndexError, ValueError):
        return "", "", -1, -1


hosts = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=8)
file_ids = st.from_regex(r"[0-9]{1,9}-[0-9a-f]{1,8}", fullmatch=True)
lines_of = st.lists(st.tuples(st.integers(0, 3), st.integers(1, 300)), min_size=1, max_size=60)


@settings(max_examples=400, deadline=None)
@given(host_names=st.lists(hosts, min_size=1, max_size=4, unique=True), ids=st.lists(file_ids, min_size=4, max_size=4),
       lines=lines_of, first=st.integers(0, 10**13), text=st.booleans())
def test_keys_the_l1_writes_are_read_at_once_as_one_by_one(host_names, ids, lines, first, text):
    """Interleaved lines of up to four host files (hosts and file ids of any length, so keys of one
    length may have several layouts): every key read, each file's records found."""
    ends = {}
    keys = []
    for which, length in lines:
        host, file_id = host_names[which % len(host_names)], ids[which]
        start = ends.get((host, file_id), first)
        ends[(host, file_id)] = start + length
        key = make_line_id(host, file_id, start, start + length)
        keys.append(key.decode() if text else key)
    assert parse_line_ids(keys) is not None
    _check_chunk(keys)


keys_of_any_kind = st.one_of(
    st.binary(max_size=60),
    st.text(max_size=40),
    st.none(),
    st.builds(lambda host, file_id, start, end, sep: f"ls1{sep}{host}{sep}{file_id}{sep}{start}{sep}{end}".encode(),
              hosts, file_ids, st.integers(-5, 10**20), st.integers(-5, 10**20), st.sampled_from([" ", "  ", "\t", " \x0b"])),
    st.builds(lambda host, start, end: b"ls1 %s 7-ab %s %s" % (host.encode(), start.encode(), end.encode()),
              hosts, st.sampled_from(["0", "007", "+5", "1_0", "-0", "99999999999999999999", "123456789012345678", "١٢"]),
              st.sampled_from(["10", "0010", "+6", "2_0", "1234567890123456789"])),
)


@settings(max_examples=600, deadline=None)
@given(keys=st.lists(keys_of_any_kind, min_size=1, max_size=12),
       l1_keys=st.lists(st.builds(make_line_id, hosts, file_ids, st.integers(0, 10**12), st.integers(1, 10**12)), max_size=6))
def test_any_chunk_is_read_as_one_by_one_or_refused(keys, l1_keys):
    """Arbitrary bytes, text, keys with other whitespace, signs, underscores, leading zeros, non-ASCII
    digits, offsets past int64, among keys the L1 writes: what the chunk parser reads is what a key
    read alone says; what it refuses goes record by record."""
    _check_chunk(l1_keys + keys)
    _check_chunk(keys + l1_keys)


def test_keys_as_one_text_keep_a_key_with_a_line_end_apart():
    keys = [make_line_id("web1", "12-ab", 0, 10), make_line_id("web1", "12-ab", 10, 20)]
    assert joined_keys(keys) == "\n".join(key.decode() for key in keys)
    assert joined_keys([keys[0], b"a key\nof two lines"]) is None  # the spout sends a list then
    assert parse_line_ids(keys[0].decode() + "\n" + "\n" + keys[1].decode()) is None  # an empty key between
    assert parse_line_ids("\n".join(key.decode() for key in keys))[0].tolist() == [0, 10]
    assert parse_line_ids([]) is None and parse_line_ids("") is None and parse_line_ids(b"") is None


def test_the_l1s_keys_pad_their_offsets_and_a_reader_takes_any_width():
    assert make_line_id("web1", "12-ab", 0, 171) == b"ls1 web1 12-ab " + b"0" * (OFFSET_DIGITS - 1) + b"0 " + \
        b"0" * (OFFSET_DIGITS - 3) + b"171"
    assert line_id(make_line_id("web1", "12-ab", 120, 171)) == line_id(b"ls1 web1 12-ab 120 171") == ("web1 12-ab", 120, 171)
    assert len(make_line_id("web1", "12-ab", 10**16, 10**16 + 1)) > len(make_line_id("web1", "12-ab", 0, 1))  # never cut


def test_a_key_that_differs_from_the_others_in_any_one_byte_is_read_as_one_by_one():
    """Every single-byte change of one key among keys the L1 writes (a space for a digit, a digit for a
    space, a tab, a letter, a byte past ASCII, at every position): the chunk parser reads it as the key
    alone reads, or refuses the chunk."""
    keys = [make_line_id("web1", "1835021-9a0c31f2", at * 100, at * 100 + 100) for at in range(4)]
    for position in range(len(keys[2])):
        for byte in b" 0\tx\xff\n":
            changed = bytearray(keys[2])
            changed[position] = byte
            _check_chunk([keys[0], keys[1], bytes(changed), keys[3]])


@settings(max_examples=500, deadline=None)
@given(host_names=st.lists(hosts, min_size=1, max_size=3, unique=True), ids=st.lists(file_ids, min_size=3, max_size=3),
       lines=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 300)), min_size=1, max_size=100),
       separators=st.lists(st.integers(1, 2), min_size=3, max_size=3), first=st.integers(0, 10**13),
       changes=st.lists(st.tuples(st.integers(0, 99), st.sampled_from(["gap", "length", "overlap", "key"])), max_size=2))
def test_runs_of_adjacent_lines_give_back_each_records_line(host_names, ids, lines, separators, first, changes):
    """A chunk's keys as runs (what the spout sends instead of the keys): read back with the values'
    lengths they are each key's line; a chunk they cannot describe (a gap, a line whose length is not
    its value's plus its file's separator, lines out of order, a key that is no line id, files
    interleaved more than 32 times) has no runs, and it is refused only then."""
    ends, keys, lengths = {}, [], []
    for which, value_length in lines:
        file = (host_names[which % len(host_names)], ids[which])
        start = ends.get(file, first)
        ends[file] = start + value_length + separators[which]
        keys.append(make_line_id(*file, start, ends[file]))
        lengths.append(value_length)
    for at, change in changes:
        if at < len(keys) and line_id(keys[at]) is not None:
            file, start, end = line_id(keys[at])
            host, file_id = file.split(" ")
            if change == "gap":
                keys[at] = make_line_id(host, file_id, start + 1, end + 1)
            elif change == "length":
                lengths[at] += 1
            elif change == "overlap":
                keys[at] = make_line_id(host, file_id, max(0, start - 3), end)
            else:
                keys[at] = b"not a line id"
    runs = line_runs(keys, np.array(lengths, np.int64))

    # describable: every key a line id; per file, each line starts where the one before ended and is
    # as long as its value plus one separator of its file; the records' order changes file at most 33 times a file
    read = [line_id(key) for key in keys]
    describable = None not in read
    if describable:
        by_file: dict[str, list[int]] = {}
        for index, (file, _start, _end) in enumerate(read):
            by_file.setdefault(file, []).append(index)
        for file, indexes in by_file.items():
            mine = [read[index] for index in indexes]
            separator = {end - start - lengths[index] for index, (_f, start, end) in zip(indexes, mine)}
            stretches = 1 + sum(1 for low, high in zip(indexes, indexes[1:]) if high != low + 1)
            describable &= (all(left[2] == right[1] for left, right in zip(mine, mine[1:]))
                            and len(separator) == 1 and min(separator) >= 1 and stretches <= 33)
    assert (runs is not None) == describable
    if runs is not None:
        assert lines_of_runs(runs, lengths) == read


@settings(max_examples=300, deadline=None)
@given(committed=st.lists(st.tuples(st.sampled_from([b"web1", b"web2"]), st.integers(0, 40), st.integers(1, 5)),
                          max_size=4),
       chunk=chunks)
def test_a_chunk_taken_at_once_by_its_runs_is_taken_as_record_by_record(committed, chunk):
    """keep_runs takes a chunk only when record by record would take every record (not always then: a
    line overlapping one taken before is refused), and then ends in the same state; else it takes
    nothing."""
    before = LineRanges()
    for host, start, length in committed:
        before.add(f"{host.decode()} 9-f", start, start + length, 1)
    ends = {b"web1": 20, b"web2": 30}
    keys, lengths = [], []
    for host, _gap, length in chunk:
        keys.append(_key(host, b"9-f", ends[host], ends[host] + length))
        lengths.append(length - 1)
        ends[host] += length
    stamps = list(range(5, 5 + len(keys)))
    runs = line_runs(keys, np.array(lengths, np.int64))
    assert runs is not None

    at_once, one_by_one = LineDedup(before), LineDedup(before)
    kept = [one_by_one.keep(line, stamp) for line, stamp in zip(lines_of_runs(runs, lengths), stamps)]
    took = at_once.keep_runs(runs, max(stamps))
    if not committed:
        assert took  # the common case: the fast path is used
    if took:
        assert all(kept)
        assert at_once.covered.files == one_by_one.covered.files and at_once.taken.files == one_by_one.taken.files
    else:
        assert (at_once.covered, at_once.taken) == (LineDedup(before).covered, LineRanges())


def test_files_interleaved_record_by_record_go_as_their_keys():
    """Two files' lines alternating: runs up to 33 stretches a file, the keys beyond (as cheap then)."""
    def alternating(records: int):
        ends = {"web1": 0, "web2": 0}
        keys = []
        for index in range(records):
            host = ("web1", "web2")[index % 2]
            keys.append(make_line_id(host, "9-f", ends[host], ends[host] + 11))
            ends[host] += 11
        return line_runs(keys, np.full(records, 10, np.int64))

    runs = alternating(66)
    assert [(file, start, end, len(stretches) // 2, separator) for file, start, end, stretches, separator in runs] == \
        [("web1 9-f", 0, 33 * 11, 33, 1), ("web2 9-f", 0, 33 * 11, 33, 1)]
    assert alternating(68) is None
