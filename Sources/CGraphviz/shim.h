// Graphviz's layout and rendering API (Debian: libgraphviz-dev, pkg-config libgvc).
#include <gvc.h>
#include <cgraph.h>
