#!/bin/sh
# compare.sh: each bundled app on `quern run` and on `quern-beam run` (Prism,
# in-process) at SIZE of generated input: CPU time (user+sys), peak RSS of
# the largest process (GNU time's "Maximum resident set size"), and whether
# the outputs are equal (as sorted lines; grep and sort in part order).
#
#   go build -o /tmp/quern ./cmd/quern && (cd beam && go build -o /tmp/quern-beam ./cmd/quern-beam)
#   sh bench/beam/compare.sh /tmp/quern /tmp/quern-beam 50MiB [APP...]
set -eu
quern=$1 beam=$2 size=$3
shift 3
apps=${*:-"wordcount topk invertedindex urlcount termvector grep sort reverselinks"}
work=$(mktemp -d "${TMPDIR:-/tmp}/quern-beam-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
"$quern" gen text --size "$size" --seed 1 -o text.txt >/dev/null
"$quern" gen logs --size "$size" --seed 2 -o access.log >/dev/null
"$quern" gen html --size "$size" --seed 3 -o pages.jsonl >/dev/null
"$quern" gen gensort --size "$size" --seed 4 -o records.dat >/dev/null
mkdir docs && split -n l/8 text.txt docs/doc-
# join: users (the left side) and orders of about SIZE together.
awk 'BEGIN{print "id,name"; for(i=0;i<200000;i++) printf "%d,user%d\n", i, i}' > users.csv
awk -v n="$(( $(stat -c %s text.txt) / 24 ))" 'BEGIN{print "user_id,item,price"; for(i=0;i<n;i++) printf "%d,item%d,%d\n", (i*7919)%250000, i, i%97}' > orders.csv

args() {
	case $1 in
	wordcount | anagrams) echo "--input text.txt" ;;
	topk) echo "--input text.txt --k 10" ;;
	invertedindex) echo "--input docs" ;;
	urlcount) echo "--input access.log" ;;
	termvector | reverselinks) echo "--input pages.jsonl" ;;
	grep) echo "--input text.txt --pattern th[ae]" ;;
	sort) echo "--input records.dat" ;;
	join) echo "--input users.csv --input orders.csv --left users.csv --right orders.csv --left-key id --right-key user_id" ;;
	esac
}

# measure LABEL CMD...: prints "cpu_s rss_mb"
measure() {
	/usr/bin/time -f "%U %S %M" -o time.out "$@" >/dev/null 2>run.err || { cat run.err >&2; return 1; }
	awk '{printf "%.1f %.0f", $1+$2, $3/1024}' time.out
}

lines() { for p in "$1"/part-*; do "$quern" cat "$p"; done; }

printf '| app | quern run CPU s | quern run peak RSS MB | quern-beam CPU s | quern-beam peak RSS MB | same output |\n| --- | ---: | ---: | ---: | ---: | --- |\n'
for app in $apps; do
	rm -rf local beam
	l=$(measure "$quern" run "$app" $(args "$app") --output local --quiet)
	b=$(measure "$beam" run "$app" $(args "$app") --output beam --quiet)
	case $app in
	grep | sort) lines local >a; lines beam >b ;;
	*) lines local | sort >a; lines beam | sort >b ;;
	esac
	same=no
	if [ -s a ] && cmp -s a b; then same=yes; fi
	echo "$l $b" | awk -v app="$app" -v same="$same" '{printf "| %s | %s | %s | %s | %s | %s |\n", app, $1, $2, $3, $4, same}'
done
