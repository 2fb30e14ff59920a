#!/bin/sh
# compare.sh: each bundled app on `quern run` and on `quern-beam run` (Prism,
# in-process) at SIZE of generated input: wall time, CPU time (user+sys),
# peak RSS of the largest process (GNU time's "Maximum resident set size"),
# and whether the outputs are equal (as sorted lines; grep and sort in part
# order; pagerank's ranks to a relative 1e-9, since Beam adds the shares in
# another order). pagerank runs PAGERANK_ITERATIONS rounds (default 5).
#
#   go build -o /tmp/quern ./cmd/quern && (cd beam && go build -o /tmp/quern-beam ./cmd/quern-beam)
#   sh bench/beam/compare.sh /tmp/quern /tmp/quern-beam 50MiB [APP...]
set -eu
export LC_ALL=C # sort and join agree on the order of node ids
quern=$1 beam=$2 size=$3
shift 3
apps=${*:-"wordcount topk invertedindex urlcount termvector grep sort reverselinks topwords join joinagg pagerank"}
iterations=${PAGERANK_ITERATIONS:-5}
work=$(mktemp -d "${TMPDIR:-/tmp}/quern-beam-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
"$quern" gen text --size "$size" --seed 1 -o text.txt >/dev/null
"$quern" gen logs --size "$size" --seed 2 -o access.log >/dev/null
"$quern" gen html --size "$size" --seed 3 -o pages.jsonl >/dev/null
"$quern" gen gensort --size "$size" --seed 4 -o records.dat >/dev/null
"$quern" gen graph --size "$size" --seed 5 -o edges.txt >/dev/null
mkdir docs && split -n l/8 text.txt docs/doc-
# join: users (the left side) and orders of about SIZE together.
awk 'BEGIN{print "id,name,city"; for(i=0;i<200000;i++) printf "%d,user%d,city%d\n", i, i, i%50}' > users.csv
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
	topwords) echo "--input text.txt --k 10" ;;
	join) echo "--input users.csv --input orders.csv --left users.csv --right orders.csv --left-key id --right-key user_id" ;;
	joinagg) echo "--input users.csv --input orders.csv --left users.csv --right orders.csv --left-key id --right-key user_id --group-by city --sum price" ;;
	pagerank) echo "--input edges.txt --iterations $iterations" ;;
	esac
}

# measure CMD...: prints "wall_s cpu_s rss_mb"
measure() {
	/usr/bin/time -f "%e %U %S %M" -o time.out "$@" >/dev/null 2>run.err || { cat run.err >&2; return 1; }
	awk '{printf "%.1f %.1f %.0f", $1, $2+$3, $4/1024}' time.out
}

lines() { for p in "$1"/part-*; do "$quern" cat "$p"; done; }

# same_ranks A B: both hold the same nodes, each rank within a relative 1e-9.
same_ranks() {
	[ "$(wc -l <"$1")" -eq "$(wc -l <"$2")" ] || return 1
	join -t "$(printf '\t')" "$1" "$2" | awk -F '\t' -v want="$(wc -l <"$1")" '
		{ d = $2 - $3; if (d < 0) d = -d; if (d > 1e-9 * ($2 < 0 ? -$2 : $2)) bad++; n++ }
		END { exit !(n == want && bad == 0) }'
}

printf '| app | quern run wall s | CPU s | peak RSS MB | quern-beam wall s | CPU s | peak RSS MB | same output |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n'
for app in $apps; do
	rm -rf local beam
	l=$(measure "$quern" run "$app" $(args "$app") --output local --quiet)
	b=$(measure "$beam" run "$app" $(args "$app") --output beam --quiet)
	case $app in
	grep | sort) lines local >a; lines beam >b ;;
	*) lines local | sort >a; lines beam | sort >b ;;
	esac
	same=no
	if [ "$app" = pagerank ]; then
		if [ -s a ] && same_ranks a b; then same="yes (ranks to 1e-9)"; fi
	elif [ -s a ] && cmp -s a b; then
		same=yes
	fi
	echo "$l $b" | awk -v app="$app" -v same="$same" '{printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", app, $1, $2, $3, $4, $5, $6, same}'
done
