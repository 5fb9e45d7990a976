#include <libpq-fe.h>

// PG_DIAG_* are character-literal macros, which do not reach Swift.
static const int ETICKET_PG_DIAG_SQLSTATE = 'C';
static const int ETICKET_PG_DIAG_MESSAGE_PRIMARY = 'M';
static const int ETICKET_PG_DIAG_MESSAGE_DETAIL = 'D';
static const int ETICKET_PG_DIAG_MESSAGE_HINT = 'H';
static const int ETICKET_PG_DIAG_SEVERITY_NONLOCALIZED = 'V';
static const int ETICKET_PG_DIAG_CONSTRAINT_NAME = 'n';
static const int ETICKET_PG_DIAG_TABLE_NAME = 't';
static const int ETICKET_PG_DIAG_COLUMN_NAME = 'c';
