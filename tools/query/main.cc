// raftdns-query: the c-ares-based DNS test client (see raftdns-query(1)).
#include "tools/query/app.h"

int main(int argc, char** argv) { return raftdns::query_tool::run(argc, argv); }
