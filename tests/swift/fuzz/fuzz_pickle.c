/* libFuzzer target: the metadata pickle reader must refuse or accept any
 * bytes without reading out of bounds or leaking. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "swift.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	swift_meta meta;
	swift_error err;
	if (swift_pickle_load(data, size, &meta, &err) == 0) {
		for (size_t i = 0; i < meta.nitems; i++)
			swift_meta_get(&meta, meta.items[i].key);
		swift_meta_free(&meta);
	}
	return 0;
}
