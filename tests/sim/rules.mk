# The PBFT simulator: build/tests/sim/main_sim runs seeded simulations.
#   make sim SEEDS=N [SIM_N=4,5,7] [SIM_FIRST=1]
# `make test` runs SIM_TEST_SEEDS seeds (a fixed count: about two minutes of
# CPU here) after the unit tests; under SAN=1, where each seed costs several
# times more, a fixed 300.
SIM_MAIN := $(BUILD)/tests/sim/main_sim
SEEDS ?= 1000
SIM_N ?= 4,5,7
SIM_FIRST ?= 1
ifeq ($(SAN),1)
SIM_TEST_SEEDS := 300
else
SIM_TEST_SEEDS := 2500
endif

$(SIM_MAIN): $(BUILD)/obj/tests/sim/main_sim.o $(tests/sim_SUPPORT_OBJS) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(tests/sim_SUPPORT_OBJS) $(LINK_LIBS) -o $@

sim: $(SIM_MAIN)
	$(SIM_MAIN) --seeds $(SEEDS) --first $(SIM_FIRST) --n $(SIM_N)

sim-test: $(SIM_MAIN)
	$(SIM_MAIN) --seeds $(SIM_TEST_SEEDS) --first 1 --n 4,5,7,1,6,10

.PHONY: sim-test
TEST_EXTRA += sim-test

bench-consensus: $(BUILD)/tests/sim/bench_consensus
	$(BUILD)/tests/sim/bench_consensus
.PHONY: bench-consensus
