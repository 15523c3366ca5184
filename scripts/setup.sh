#!/usr/bin/env bash
# Prepares this checkout to run Tandem: a virtualenv with the Python packages, Chromium
# and Xvfb. Safe to run again: every step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "Tandem needs Python 3.11 or newer; '$PYTHON' is $("$PYTHON" --version 2>&1 || echo missing)."
    say "Install it (Debian: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3.11."
    exit 1
fi

# System packages: Chromium (the browser robots drive), Xvfb (the display desktop robots
# use), xdotool and scrot (window handling and screenshots for pyautogui on Linux).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
command -v xdotool >/dev/null 2>&1 || missing+=(xdotool)
command -v scrot >/dev/null 2>&1 || missing+=(scrot)
command -v xclip >/dev/null 2>&1 || missing+=(xclip)
# OCR for desktop.read_text / wait_for_text: tesseract with German and English language data
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)
dpkg -s tesseract-ocr-deu >/dev/null 2>&1 || missing+=(tesseract-ocr-deu)
dpkg -s tesseract-ocr-eng >/dev/null 2>&1 || missing+=(tesseract-ocr-eng)
# Terminal programs not written here, driven by the terminal-system tests (vim; abook, a
# curses address book, for tests/e2e/test_terminal_abook.py)
command -v vim >/dev/null 2>&1 || missing+=(vim)
command -v abook >/dev/null 2>&1 || missing+=(abook)
# s3270, the scripting 3270 emulator behind terminal systems with a 'tn3270' host
command -v s3270 >/dev/null 2>&1 || missing+=(s3270)
dpkg -s python3-tk >/dev/null 2>&1 || "$PYTHON" -c 'import tkinter' 2>/dev/null || missing+=(python3-tk)
if ((${#missing[@]})); then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
        say "installing system packages: ${missing[*]}"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        say "missing system packages: ${missing[*]} (no apt-get here: install them by hand)"
    fi
fi

# The virtualenv, refreshed whenever pyproject.toml changes.
if [ ! -x .venv/bin/python ]; then
    say "creating the virtualenv .venv"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.tandem-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    say "installing Python packages (a few minutes the first time)"
    .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" >&2 || true
    .venv/bin/python -m pip install -q -e ".[dev]" 2>&1 | grep -v "is ignored" >&2 || true
    .venv/bin/python -c 'import robots, playwright, pydantic' || { say "package installation failed"; exit 1; }
    echo "$want" > "$stamp"
fi

# A TN3270 test host for tests/e2e/test_terminal_tn3270.py: mainframe-mocker (PyPI) needs
# Python 3.12 or newer, so it gets a virtualenv of its own when such a Python is here.
host_python=""
pyenv_root="$(pyenv root 2>/dev/null || true)"
for candidate in python3.14 python3.13 python3.12 ${pyenv_root:+"$pyenv_root"/versions/3.1[2-9]*/bin/python3}; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import venv, sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
        host_python="$candidate"
        break
    fi
done
if [ -n "$host_python" ] && [ ! -x .venv-tn3270/bin/mfmock ]; then
    say "installing the TN3270 test host (mainframe-mocker) with $host_python"
    "$host_python" -m venv .venv-tn3270 &&
        .venv-tn3270/bin/python -m pip install -q mainframe-mocker==0.1.8 2>&1 | grep -v "is ignored" >&2 || true
    [ -x .venv-tn3270/bin/mfmock ] || say "no TN3270 test host: its test will be skipped"
fi

# Playwright's own Chromium only where no system Chromium exists (it needs the internet).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    say "no system Chromium: trying Playwright's own browser"
    .venv/bin/python -m playwright install chromium || say "could not get a browser: web robots will not run"
fi
