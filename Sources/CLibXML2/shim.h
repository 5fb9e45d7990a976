// Debian builds libxml2 with ICU, whose UErrorCode clashes with Foundation's in any module that
// imports both: take the version header first and switch the ICU parts off before the rest.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlmemory.h>
#include <libxml/xmlschemas.h>

// xmlFree is a global function pointer, which Swift 6 calls not concurrency-safe.
static inline void eticket_xmlFree(void *pointer) { xmlFree(pointer); }
