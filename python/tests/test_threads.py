"""Decoding releases the interpreter: Python threads run while a batch decodes."""

import threading

import numpy as np

import kinema


def test_other_threads_run_while_decoding(videos, reference):
    vr = kinema.VideoReader(videos["vp9"], width=320, height=240, interpolation="lanczos")
    count = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        advanced = []
        for _ in range(3):
            before = count[0]
            vr.get_batch(range(len(vr)))
            advanced.append(count[0] - before)
    finally:
        stop.set()
        t.join()
    # With the interpreter held for the whole call, the counter could not move during it.
    assert max(advanced) > 0


def test_readers_in_threads_give_the_same_frames(videos, reference):
    results = {}

    def read(k):
        vr = kinema.VideoReader(videos["h264"])
        results[k] = vr.get_batch(list(range(len(vr)))[::-1])

    threads = [threading.Thread(target=read, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        assert np.array_equal(results[k], reference["h264"][::-1])
