#!/usr/bin/python3
"""grep-prog (grep.c) counts what GNU grep -c -F counts: the cluster
benchmark compares the two, so they must agree on every input.

    GREP_PROG=build/tests/swift/programs/grep-prog python3 test_grep.py
"""

import os
import random
import subprocess
import tempfile
import unittest

PROG = os.environ.get('GREP_PROG', '')


def gnu_count(word, data):
    out = subprocess.run(['grep', '-c', '-F', '--', word], input=data,
                         capture_output=True).stdout
    return int(out)


def prog(word, data):
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        return subprocess.run([PROG, word], stdin=f, capture_output=True)


class GrepProg(unittest.TestCase):
    def same(self, word, data):
        r = prog(word, data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(int(r.stdout), gnu_count(word, data),
                         '%r in %d bytes' % (word, len(data)))

    def test_small_cases(self):
        for word, data in [('zz', b'a zz\nzzz\nz\nxzy zz\nqq'),
                           ('ee', b'eee\nee\ne e e\neeee'),
                           ('x', b''), ('x', b'x'), ('x', b'\n\nx\n'),
                           ('ab', b'ab ab ab\nabab\nba\n')]:
            self.same(word, data)

    def test_words_across_reads(self):
        """Lines and words that straddle the program's 1-2 MiB reads."""
        rnd = random.Random(6)
        lines = []
        for i in range(60000):
            line = ''.join(rnd.choices('abcdefghij klmnopqrstuvwxyz',
                                       k=rnd.randrange(0, 120)))
            if rnd.random() < 0.02:
                k = rnd.randrange(len(line) + 1)
                line = line[:k] + 'needle' + line[k:]
            lines.append(line)
        data = '\n'.join(lines).encode()
        self.assertGreater(len(data), 3 << 20)
        for word in ('needle', 'e', 'the', 'zq', 'edl'):
            self.same(word, data)

    def test_a_common_rare_byte(self):
        """The word's rarest byte in English is common here: most
        candidates fail (the memmem fallback)."""
        rnd = random.Random(7)
        data = '\n'.join(''.join(rnd.choices('zzzzzaz b',
                                             k=rnd.randrange(1, 90))) +
                         (' jazz' if rnd.random() < 0.05 else '')
                         for _ in range(40000)).encode()
        self.same('jazz', data)
        self.same('zzz', data)

    def test_refusals(self):
        for word in ('', 'a\nb'):
            r = prog(word, b'abc\n')
            self.assertEqual(r.returncode, 2)
            self.assertIn(b'usage', r.stderr)
        r = prog('x', b'y' * (3 << 20))
        self.assertEqual(r.returncode, 2)
        self.assertIn(b'longer than', r.stderr)


if __name__ == '__main__':
    unittest.main()
