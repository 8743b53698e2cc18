# Runs tool $1 of the sent package with the rest of the arguments; what every bin/ executable does.
# The Python is the project's .venv (made by `make setup`), else python3 on PATH where it has the
# package (an activated environment, a pip install); else one line says what to do.
tool=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
py=$root/.venv/bin/python
if [ ! -x "$py" ]; then
    py=python3
    if ! "$py" -c 'import sent.tools' 2>/dev/null; then
        echo "$tool: error: no Python with the sent package: run \`make setup\` in $root (or \`pip install $root\`)" >&2
        exit 2
    fi
fi
exec "$py" -m sent.tools "$tool" "$@"
