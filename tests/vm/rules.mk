# The VM benchmark: this VM against lua5.4 on the same programs, same run.
VM_BENCH := $(BUILD)/tests/vm/bench-vm

$(VM_BENCH): $(BUILD)/obj/tests/vm/main_bench.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< $(LINK_LIBS) -o $@

.PHONY: bench-vm
bench-vm: $(VM_BENCH)
	$(VM_BENCH)

BENCH_TARGETS += bench-vm
