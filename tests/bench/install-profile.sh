# Old path of tests/lab/profile.sh, still sourced by tests/cases/predict-cache.sh and tests/cases/lab-luks-predicted.sh.
. "$(dirname "${BASH_SOURCE[0]}")/../lab/profile.sh"
