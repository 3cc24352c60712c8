#!/usr/bin/env bash
# The solver-grid decision and the NFE-convergence tables of docs/solvers.md: EPS with the analytic pivot denoiser
# on the exact-posterior benchmark (3x8x8, sigma_y 0.05, 2000 samples, seeds 101-103, which no test uses), every
# deterministic solver on both sigma grids at 10 and 20 NFE, and the convergence in NFE of the paper's sampler
# (Euler, Karras) and of DPM-Solver++(2M) on the geometric grid. One `eps frontier` run per (solver, grid, NFE list);
# about 8000 denoiser calls of 2000 x 192 float64 in all (30-40 min on one loaded core).
#   bash benchmarks/solver_tables.sh [OUT]    (OUT: runs/solvers; then python benchmarks/solver_tables.py OUT)
set -euo pipefail
out=${1:-runs/solvers}
mkdir -p "$out"
run() {  # solver grid nfe-list [file suffix] (a finished table is kept: the script resumes)
  [ -e "$out/$1_$2${4:-}_table.csv" ] && return
  eps frontier --methods eps --solvers "$1" --grids "$2" --nfe "$3" --seeds 101,102,103 --num-samples 2000 \
    --shape 3,8,8 --sigma-y 0.05 --threads 1 --out "$out/$1_$2${4:-}.csv" --table "$out/$1_$2${4:-}_table.csv" \
    --figure "$out/$1_$2${4:-}.png" > "$out/$1_$2${4:-}.log" 2>&1
}
run dpmpp2m geometric 5,10,20,50,100
run dpmpp2m karras 10,20
run euler karras 10,20,100
run euler karras 5,50 _more
run euler geometric 10,20
run heun karras 10,20
run heun geometric 10,20
run ddim karras 10,20
run ddim geometric 10,20
