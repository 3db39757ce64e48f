# Sourced by the set-up scripts of optional parts (setup_torch.sh,
# setup_chromium.sh): install_or_print PART COMMAND CONSEQUENCE runs COMMAND
# as root on Debian, else prints it; never fatal. Returns 0 when it ran and
# succeeded.
say() { printf '[setup] %s\n' "$*" >&2; }

install_or_print() {
  local part="$1" cmd="$2" consequence="$3" log="/tmp/moec-setup-$1.log"
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "no $part: $consequence. On Debian 12, as root:"
    say "    $cmd"
    return 1
  fi
  say "no $part: installing it from Debian"
  if ! bash -c "$cmd" >"$log" 2>&1; then
    say "installing $part failed (log: $log); $consequence"
    tail -n 5 "$log" >&2
    return 1
  fi
  return 0
}
