# The code apply/revert runs inside the interpreter a byte-code file is for (Python 2.7 to 3.x) to
# compile a copy's new source: not imported by the tool, read as package data (importlib.resources)
# and passed to ``python -S -E -B -c``. It never imports the copy: it compiles the text it is given.
#
# stdin: a JSON object {"jobs": [{"source": <base64>, "filename": <base64 of the path's bytes>,
#        "optimize": 0|1|2}, ...]} (Python 2 compiles at the level it runs at: -O for .pyo)
# stdout: one JSON object {"version": [X, Y], "magic": <base64>, "tag": <cache tag or null>,
#        "results": [{"code": <base64 of marshal.dumps(code)>, "hash": <base64 of the source hash
#        (3.7+) or null>, "error": null} or {"code": null, "hash": null, "error": "..."}, ...]}
import base64
import json
import marshal
import os
import sys


def magic_number():
    try:
        from importlib.util import MAGIC_NUMBER

        return MAGIC_NUMBER
    except ImportError:  # Python 2, 3.0 to 3.3
        import imp

        return imp.get_magic()


def source_hash(source):
    try:
        from importlib.util import source_hash as hash_of
    except ImportError:  # before 3.7: no hash-based byte-code
        return None
    return base64.b64encode(hash_of(source)).decode("ascii")


def compile_one(job):
    source = base64.b64decode(job["source"])
    filename = base64.b64decode(job["filename"])
    if sys.version_info[0] == 2:
        # as py_compile reads it: universal newlines, and a final newline
        text = source.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not text.endswith(b"\n"):
            text += b"\n"
        code = compile(text, filename, "exec", 0, True)
    else:
        code = compile(source, os.fsdecode(filename), "exec", dont_inherit=True, optimize=job["optimize"])
    return {"code": base64.b64encode(marshal.dumps(code)).decode("ascii"), "hash": source_hash(source), "error": None}


def main():
    request = json.loads(sys.stdin.read())
    results = []
    for job in request["jobs"]:
        try:
            results.append(compile_one(job))
        except Exception as exc:  # a syntax this interpreter does not take: said, not compiled
            results.append({"code": None, "hash": None, "error": type(exc).__name__ + ": " + str(exc)})
    implementation = getattr(sys, "implementation", None)
    answer = {
        "version": list(sys.version_info[:2]),
        "magic": base64.b64encode(magic_number()).decode("ascii"),
        "tag": getattr(implementation, "cache_tag", None),
        "results": results,
    }
    sys.stdout.write(json.dumps(answer))


main()
