# The machine's load beside every benchmark: `make bench` runs each one
# through $(LOAD_MAIN) (the Makefile names it, before the fragments that use
# it), built from tests/load/main_load.c alone.

$(LOAD_MAIN): $(BUILD)/obj/tests/load/main_load.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $< -o $@
