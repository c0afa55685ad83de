# pg_fraiseql_cache — build with PGXS; `make demo` and `make test` do all
# set-up on a fresh Debian 12 machine (run them as root).

EXTENSION   = pg_fraiseql_cache
MODULE_big  = pg_fraiseql_cache
SRCS        = $(sort $(wildcard src/*.cpp))
OBJS        = $(SRCS:.cpp=.o)
DATA        = $(wildcard sql/pg_fraiseql_cache--*.sql)

REGRESS      = setup versions merge manual_and_ddl privileges guarantees security
REGRESS_OPTS = --inputdir=build/regress --outputdir=build/regress --use-existing
# The tests run in the database the worker serves (CONTRIB_TESTDB, set
# after the PGXS include), which exists already: the worker stays connected
# to it, so pg_regress cannot drop and recreate it.

PG_CONFIG   ?= pg_config
PG_CPPFLAGS  = -I$(CURDIR)/include
PG_CXXFLAGS  = -std=c++17 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
               -fno-strict-aliasing -MMD -MP
SHLIB_LINK   = -lstdc++

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
# No LLVM bitcode: the C++ sources are not JIT-inlinable and need no clang.
# (override before the include, so Makefile.global cannot turn it back on)
override with_llvm = no
include $(PGXS)
override CONTRIB_TESTDB = $(or $(PGDATABASE),fraiseql_test)
# The server headers are system headers: their warnings are not ours,
# wherever the server is installed (/usr, /opt, a prefix).
FC_SYSTEM_INCLUDES := $(filter $(addprefix -I,$(includedir_server) $(includedir_internal)) -I/usr/%,$(CPPFLAGS))
override CPPFLAGS := $(patsubst -I%,-isystem %,$(FC_SYSTEM_INCLUDES)) $(filter-out $(FC_SYSTEM_INCLUDES),$(CPPFLAGS))
-include $(OBJS:.o=.d)
endif

EXTRA_CLEAN = $(OBJS:.o=.d) build

.PHONY: demo test test-unit test-integration deps prepare-regress benchmark

# pg_regress reads <inputdir>/sql and <inputdir>/expected.
prepare-regress:
	@mkdir -p build/regress
	@ln -sfn ../../regress build/regress/sql
	@ln -sfn ../../expected build/regress/expected

installcheck: prepare-regress

deps:
	scripts/deps.sh

demo:
	scripts/demo.sh

test:
	scripts/test.sh all

test-unit:
	scripts/test.sh unit

test-integration:
	scripts/test.sh integration

benchmark:
	scripts/benchmark.sh

# Other servers, releases and packages (docs/versions.md).
.PHONY: test-all-versions dist package
test-all-versions:
	scripts/test_all_versions.sh

dist:
	scripts/dist.sh

package:
	scripts/package_deb.sh
