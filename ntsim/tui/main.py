"""`ntsim tui`: check the arguments (one line on stderr, the right exit status), then start."""

from __future__ import annotations

import os
import shlex
import sys

EXIT_NTSIM_FAILED, EXIT_NOT_FOUND = 125, 127


def main(args) -> int:
    from .bridge import LiveSession

    if not os.path.isdir(args.root):
        print(f"ntsim: --root {args.root}: not a directory", file=sys.stderr)
        return EXIT_NTSIM_FAILED
    session = None
    if args.lesson:
        from .lessons import find_lesson, lesson_names
        if args.lesson == "list":
            print("\n".join(lesson_names()))
            return 0
        lesson = find_lesson(args.lesson)
        if lesson is None:
            print(f"ntsim: no lesson {args.lesson!r} (lessons: {', '.join(lesson_names())})",
                  file=sys.stderr)
            return EXIT_NOT_FOUND
        from .app import NtsimApp
        app = NtsimApp(lesson=lesson, root=args.root)
    elif args.compare:
        sides = []
        for text in args.compare:
            words = shlex.split(text)
            if not words:
                print("ntsim: --compare needs two programs", file=sys.stderr)
                return EXIT_NTSIM_FAILED
            if not os.path.exists(words[0]):
                print(f"ntsim: {words[0]}: no such file", file=sys.stderr)
                return EXIT_NOT_FOUND
            sides.append(LiveSession(words[0], words[1:], root=args.root,
                                     deterministic=args.deterministic, count_instructions=True))
        from .app import NtsimApp
        app = NtsimApp(compare=(sides[0], sides[1]), root=args.root)
    else:
        if args.program:
            if not os.path.exists(args.program):
                print(f"ntsim: {args.program}: no such file", file=sys.stderr)
                return EXIT_NOT_FOUND
            session = LiveSession(args.program, args.args, root=args.root,
                                  personality=args.personality, deterministic=args.deterministic)
            session.start()            # the machine boots while Textual starts
        from .app import NtsimApp
        app = NtsimApp(run=session, root=args.root)
    app.run()
    return 0
