# The PBFT simulator: build/tests/sim/main_sim runs seeded simulations.
#   make sim SEEDS=N [SIM_N=4,5,7] [SIM_FIRST=1]
#   make sim-ledger SEEDS=N    the ledger mode (spec/consensus.md)
#   make sim-reconfig SEEDS=N  validator-set changes at boundaries (same)
# `make test` runs SIM_TEST_SEEDS seeds (a fixed count: about two minutes of
# CPU here) and SIM_LEDGER_TEST_SEEDS of the ledger mode (about a minute)
# after the unit tests, and SIM_RECONFIG_TEST_SEEDS of the reconfiguration
# mode from SIM_RECONFIG_TEST_FIRST (about 25 s); under SAN=1, where
# each seed costs several times more, fewer.
SIM_MAIN := $(BUILD)/tests/sim/main_sim
SEEDS ?= 1000
SIM_N ?= 4,5,7
SIM_FIRST ?= 1
ifeq ($(SAN),1)
SIM_TEST_SEEDS := 300
SIM_LEDGER_TEST_SEEDS := 24
SIM_RECONFIG_TEST_SEEDS := 50
else
SIM_TEST_SEEDS := 2500
SIM_LEDGER_TEST_SEEDS := 200
SIM_RECONFIG_TEST_SEEDS := 500
endif
# Of seeds 1..20000 of the reconfiguration mode, 17016 and 18909 fail (a
# request not committed within the run, under a Byzantine validator; given
# three times as long they commit: spec/consensus.md, "Invariants"); 2887, 13254, 912, 8172, 9600, 2363,
# 1746 and 4048 failed once and run as regressions below.
SIM_RECONFIG_TEST_FIRST := 1

$(SIM_MAIN): $(BUILD)/obj/tests/sim/main_sim.o $(tests/sim_SUPPORT_OBJS) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(tests/sim_SUPPORT_OBJS) $(LINK_LIBS) -o $@

sim: $(SIM_MAIN)
	$(SIM_MAIN) --seeds $(SEEDS) --first $(SIM_FIRST) --n $(SIM_N)

sim-ledger: $(SIM_MAIN)
	$(SIM_MAIN) --ledger --seeds $(SEEDS) --first $(SIM_FIRST) --n $(SIM_N),1

sim-reconfig: $(SIM_MAIN)
	$(SIM_MAIN) --reconfig --seeds $(SEEDS) --first $(SIM_FIRST) --n $(SIM_N)

sim-test: $(SIM_MAIN)
	$(SIM_MAIN) --seeds $(SIM_TEST_SEEDS) --first 1 --n 4,5,7,1,6,10
	$(SIM_MAIN) --ledger --seeds $(SIM_LEDGER_TEST_SEEDS) --first 1 \
	    --n 4,5,7,1
	$(SIM_MAIN) --reconfig --seeds $(SIM_RECONFIG_TEST_SEEDS) \
	    --first $(SIM_RECONFIG_TEST_FIRST) --n 4,5,7
	$(SIM_MAIN) --reconfig --seed 9600 --n 4
	$(SIM_MAIN) --reconfig --seed 2363 --n 7
	$(SIM_MAIN) --reconfig --seed 1746 --n 4
	$(SIM_MAIN) --reconfig --seed 4048 --n 5
	$(SIM_MAIN) --reconfig --seed 912 --n 4
	$(SIM_MAIN) --reconfig --seed 8172 --n 4
	$(SIM_MAIN) --reconfig --seed 2887 --n 5
	$(SIM_MAIN) --reconfig --seed 13254 --n 4

.PHONY: sim sim-ledger sim-reconfig sim-test
TEST_EXTRA += sim-test

bench-consensus: $(BUILD)/tests/sim/bench_consensus
	$(BUILD)/tests/sim/bench_consensus
.PHONY: bench-consensus
