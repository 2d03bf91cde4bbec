# Shared by the bench scripts (sourced): medians and loci's step times from a build log.

# The median of the numbers on standard input, one a line ("nan" when there is none).
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# LOG: "name=seconds ..." of loci's step headers (`==> [i/n] name done in 1.2s`, `350ms`, `1m20s`).
steps_of() {
    grep -oE '==> \[[0-9]+/[0-9]+\] [a-z-]+ done in [0-9.]+(ms|s|m[0-9.]+s)?' "$1" |
        awk '{t=$6; if (t ~ /ms$/) {sub(/ms$/,"",t); t=t/1000} else if (t ~ /m/) {split(t,p,"m"); sub(/s$/,"",p[2]); t=p[1]*60+p[2]} else {sub(/s$/,"",t)}; printf "%s=%.1f ", $3, t}'
}
