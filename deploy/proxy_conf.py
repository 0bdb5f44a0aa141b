"""proxy_conf.py - add the zerovm filter to a Swift proxy-server.conf, or
take it out again. Used by install-proxy-node.sh; stdlib only.

    proxy_conf.py show   SAMPLE [CONF] [--endpoints URLS]  print the lines
    proxy_conf.py apply  SAMPLE CONF   [--endpoints URLS]  edit CONF
    proxy_conf.py revert CONF                               undo apply

The edit is textual, so comments and layout of CONF survive: "zerovm" goes
into the [pipeline:main] pipeline right after the auth filter, and the
[filter:zerovm] section of SAMPLE is appended. Both steps are skipped when
already done, so apply can run again on upgrade.
"""

import argparse
import re
import sys

AUTH_FILTERS = ('keystoneauth', 'tempauth')
SECTION_RE = re.compile(r'^\s*\[([^\]]+)\]\s*$')


class ConfError(Exception):
    """A proxy-server.conf this script cannot edit; the message says why."""


def sections(lines):
    """[(name, start, end)] for each [section]; lines[start] is the header,
    end is the index of the next header (or len(lines))."""
    heads = [(i, m.group(1).strip()) for i, l in enumerate(lines)
             for m in [SECTION_RE.match(l)] if m]
    return [(name, i, heads[k + 1][0] if k + 1 < len(heads) else len(lines))
            for k, (i, name) in enumerate(heads)]


def find_section(lines, name):
    for sec, start, end in sections(lines):
        if sec == name:
            return start, end
    return None


def pipeline_span(lines, path):
    """(first, last) line indexes of the pipeline option in [pipeline:main],
    continuation lines included, and its words."""
    span = find_section(lines, 'pipeline:main')
    if not span:
        raise ConfError('%s: no [pipeline:main] section' % path)
    for i in range(span[0] + 1, span[1]):
        m = re.match(r'^pipeline\s*[=:]\s*(.*)$', lines[i])
        if not m:
            continue
        words, j = m.group(1).split(), i + 1
        while j < span[1] and lines[j][:1] in (' ', '\t') and lines[j].strip():
            words += lines[j].split()
            j += 1
        return i, j, words
    raise ConfError('%s:%d: [pipeline:main] has no pipeline option'
                    % (path, span[0] + 1))


def with_zerovm(words, path):
    if 'zerovm' in words:
        return words
    auth = [k for k, w in enumerate(words) if w in AUTH_FILTERS]
    if not auth:
        raise ConfError('%s: no auth filter (%s) in the pipeline; add '
                        '"zerovm" right after yours by hand'
                        % (path, ', '.join(AUTH_FILTERS)))
    k = auth[-1] + 1
    return words[:k] + ['zerovm'] + words[k:]


def filter_section(sample, endpoints):
    """The [filter:zerovm] section of the sample, endpoints filled in."""
    with open(sample) as f:
        lines = f.read().splitlines()
    span = find_section(lines, 'filter:zerovm')
    if not span:
        raise ConfError('%s: no [filter:zerovm] section' % sample)
    out = lines[span[0]:span[1]]
    if endpoints:
        out = ['zvmd_endpoints = %s' % endpoints
               if l.startswith('zvmd_endpoints') else l for l in out]
    return out


def apply(sample, conf, endpoints):
    with open(conf) as f:
        lines = f.read().splitlines()
    first, last, words = pipeline_span(lines, conf)
    new_words = with_zerovm(words, conf)
    changed = new_words != words
    if changed:
        lines[first:last] = ['pipeline = ' + ' '.join(new_words)]
    if not find_section(lines, 'filter:zerovm'):
        lines += [''] + filter_section(sample, endpoints)
        changed = True
    if changed:
        with open(conf, 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return changed


def revert(conf):
    with open(conf) as f:
        lines = f.read().splitlines()
    span = find_section(lines, 'filter:zerovm')
    if span:
        start = span[0]
        if start > 0 and not lines[start - 1].strip():
            start -= 1
        del lines[start:span[1]]
    first, last, words = pipeline_span(lines, conf)
    if 'zerovm' in words:
        lines[first:last] = ['pipeline = ' + ' '.join(
            w for w in words if w != 'zerovm')]
    with open(conf, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def show(sample, conf, endpoints):
    print('# In [pipeline:main], "zerovm" right after the auth filter:')
    if conf:
        with open(conf) as f:
            lines = f.read().splitlines()
        print('pipeline = ' + ' '.join(
            with_zerovm(pipeline_span(lines, conf)[2], conf)))
    else:
        print('pipeline = ... tempauth zerovm ... proxy-server')
    print('\n# And this section:')
    print('\n'.join(filter_section(sample, endpoints)))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('action', choices=('show', 'apply', 'revert'))
    p.add_argument('files', nargs='+')
    p.add_argument('--endpoints', default='')
    a = p.parse_args(argv)
    try:
        if a.action == 'revert':
            revert(a.files[0])
        elif a.action == 'apply':
            if len(a.files) != 2:
                raise ConfError('apply needs SAMPLE and CONF')
            print('%s: %s' % (a.files[1], 'zerovm added' if apply(
                a.files[0], a.files[1], a.endpoints) else 'already set up'))
        else:
            show(a.files[0], a.files[1] if len(a.files) > 1 else None,
                 a.endpoints)
    except (OSError, ConfError) as e:
        print('proxy_conf.py: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
