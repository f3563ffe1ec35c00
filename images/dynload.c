/* A dynamically linked program's own loading: dlopen of libm by its soname,
 * dlsym, a call through the pointer, dladdr, dlerror for a missing library
 * and symbol, and the auxiliary vector entries the loader uses. Build with
 * plain gcc (dynamic) and compare with the native run. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

static int count_objects(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    int *n = data;
    ++*n;
    /* The vDSO has no name; the program has "". Print only what is stable. */
    const char *slash = strrchr(info->dlpi_name, '/');
    if (slash && strstr(slash, ".so"))
        printf("object %s phnum>0 %d\n", slash + 1, info->dlpi_phnum > 0);
    return 0;
}

int main(int argc, char **argv) {
    void *m = dlopen("libm.so.6", RTLD_NOW);
    printf("dlopen libm %s\n", m ? "ok" : dlerror());
    if (!m)
        return 1;
    double (*cosf_)(double) = (double (*)(double))dlsym(m, "cos");
    double (*pow_)(double, double) = (double (*)(double, double))dlsym(m, "pow");
    printf("cos(0) = %.3f, pow(2, 10) = %.0f\n", cosf_(0.0), pow_(2, 10));
    Dl_info di;
    if (dladdr((void *)pow_, &di))
        printf("dladdr pow in %s, symbol %s\n", strrchr(di.dli_fname, '/') ? strrchr(di.dli_fname, '/') + 1 : di.dli_fname, di.dli_sname);
    printf("dlsym missing: %s\n", dlsym(m, "no_such_symbol_here") ? "found" : "NULL");
    printf("dlerror says: %s\n", dlerror() ? "an error" : "nothing");
    void *none = dlopen("libdoesnotexist.so.9", RTLD_NOW);
    printf("dlopen missing: %s\n", none ? "found" : "NULL");
    printf("dlclose: %d\n", dlclose(m));
    int n = 0;
    dl_iterate_phdr(count_objects, &n);
    printf("objects >= 3: %d\n", n >= 3);
    /* AT_BASE is the interpreter's load address: non-zero and page-aligned;
     * AT_ENTRY is the program's, not the interpreter's. */
    unsigned long base = getauxval(AT_BASE), entry = getauxval(AT_ENTRY);
    printf("AT_BASE set %d aligned %d\n", base != 0, (base & 4095) == 0);
    extern char _start[];
    printf("AT_ENTRY is _start %d\n", entry == (unsigned long)_start);
    printf("AT_SYSINFO_EHDR set %d\n", getauxval(AT_SYSINFO_EHDR) != 0);
    char exe[256];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        printf("exe basename %s\n", strrchr(exe, '/') + 1);
    }
    for (int i = 1; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    return 0;
}
