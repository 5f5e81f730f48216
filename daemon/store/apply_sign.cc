// Online signing at apply time (placeholder while the apply is written).
#include "daemon/store/apply.h"

namespace raftdns::store {

Status Applier::zone_signing(const ZoneSigning& z) {
  return make_error("zone " + z.zone.to_text() + ": online signing is not built yet");
}

}  // namespace raftdns::store
