# Sourced by scripts/test when no PostgreSQL server is reachable: starts one in a
# temporary directory, from Debian's postgresql package (installed if missing), and
# stops it when the tests end. Sets MOR_TEST_POSTGRES_URL.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ]; then
  echo "No PostgreSQL found; installing Debian's postgresql package"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
pg_dir=$(mktemp -d /tmp/mor-pg.XXXXXX)
pg_port=55432
run_as=()
if [ "$(id -u)" = "0" ]; then
  # PostgreSQL refuses to run as root.
  chown postgres "$pg_dir"
  run_as=(runuser -u postgres --)
fi
"${run_as[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust >/dev/null
"${run_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1" start >/dev/null
trap '"${run_as[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null; rm -rf "$pg_dir"' EXIT
export MOR_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$pg_port/postgres"
echo "Started a throwaway PostgreSQL on port $pg_port"
