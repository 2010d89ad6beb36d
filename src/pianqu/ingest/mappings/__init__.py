"""Standard layer, field and value names recognised on import (data, with sureness and source)."""
