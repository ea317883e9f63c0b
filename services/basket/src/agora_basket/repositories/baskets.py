"""Baskets in Redis: one hash per owner, product id → line, and a set per product of its baskets.

Keys (``prefix`` is ``AGORA_BASKET_KEY_PREFIX``, ``basket`` by default)::

    {prefix}:{owner}                hash   product id -> StoredLine JSON   (TTL renewed on write)
    {prefix}:product:{product id}   set    owners whose basket holds it     (TTL renewed on write)

An owner is ``user:<id>`` or ``guest:<id>``. Every change is one Lua script, so Redis runs it
alone: two tabs setting different products never lose a line (each writes its own field), the
line limit cannot be overshot by a race, and the product index never disagrees with the baskets.
The index lets the ``product.price_changed`` consumer find the baskets holding a product without
scanning Redis. A member whose basket expired stays in a set until the set itself expires; its
readers check the basket. The scripts name index keys they build themselves, which a Redis
Cluster would refuse: basket uses one Redis (or a primary with replicas), as catalog's cache does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from agora_basket.schemas.lines import StoredLine

ScriptArgs = list[str | int]

_PUT_LINE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0
   and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""

_REMOVE_LINE = """
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[3])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return removed
"""

_CLEAR = """
local fields = redis.call('HKEYS', KEYS[1])
for _, field in ipairs(fields) do redis.call('SREM', ARGV[1] .. field, ARGV[2]) end
redis.call('DEL', KEYS[1])
return #fields
"""

_MERGE = """
local guest = redis.call('HGETALL', KEYS[1])
local merged, dropped = 0, 0
for i = 1, #guest, 2 do
  local field, value = guest[i], guest[i + 1]
  local index = ARGV[1] .. field
  local mine = redis.call('HGET', KEYS[2], field)
  if mine then
    local line = cjson.decode(mine)
    line.q = math.min(line.q + cjson.decode(value).q, tonumber(ARGV[4]))
    redis.call('HSET', KEYS[2], field, cjson.encode(line))
    merged = merged + 1
  elseif redis.call('HLEN', KEYS[2]) < tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[2], field, value)
    redis.call('SADD', index, ARGV[3])
    redis.call('EXPIRE', index, ARGV[6])
    merged = merged + 1
  else
    dropped = dropped + 1
  end
  redis.call('SREM', index, ARGV[2])
end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[6]) end
return {merged, dropped}
"""


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    """What a merge did.

    Attributes:
        merged: Guest lines added to the user's basket (or added up with a line there).
        dropped: Guest lines left out because the user's basket was full.
    """

    merged: int
    dropped: int


class BasketRepository:
    """Reads and changes baskets; every change renews the basket's time to live.

    Args:
        redis: A client made with ``decode_responses=True``.
        prefix: Prefix of every key.
        ttl_seconds: Life of a basket after its last change.
    """

    def __init__(self, redis: Redis, *, prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._put = redis.register_script(_PUT_LINE)
        self._remove = redis.register_script(_REMOVE_LINE)
        self._clear = redis.register_script(_CLEAR)
        self._merge = redis.register_script(_MERGE)

    def basket_key(self, owner: str) -> str:
        """The key of ``owner``'s basket hash."""
        return f"{self._prefix}:{owner}"

    def index_key(self, product_id: str) -> str:
        """The key of the set of owners whose basket holds ``product_id``."""
        return f"{self._prefix}:product:{product_id}"

    async def lines(self, owner: str) -> dict[str, StoredLine]:
        """The owner's lines by product id (empty when there is no basket)."""
        raw = cast(dict[str, str], await self._redis.hgetall(self.basket_key(owner)))
        return {
            product_id: StoredLine.decode(product_id, value) for product_id, value in raw.items()
        }

    async def put(self, owner: str, line: StoredLine, *, max_lines: int) -> bool:
        """Set one line (added, or replacing the product's line), unless the basket is full.

        Args:
            owner: The basket's owner.
            line: The line.
            max_lines: Most lines a basket may hold.

        Returns:
            ``False`` when the product is new and the basket already holds ``max_lines``.
        """
        keys = [self.basket_key(owner), self.index_key(line.product_id)]
        args: ScriptArgs = [line.product_id, line.encode(), max_lines, self._ttl, owner]
        return bool(await self._put(keys=keys, args=args))

    async def remove(self, owner: str, product_id: str) -> bool:
        """Remove the product's line; ``True`` when there was one."""
        keys = [self.basket_key(owner), self.index_key(product_id)]
        return bool(await self._remove(keys=keys, args=[product_id, self._ttl, owner]))

    async def clear(self, owner: str) -> int:
        """Delete the owner's basket; returns how many lines it held."""
        keys = [self.basket_key(owner)]
        return int(await self._clear(keys=keys, args=[self.index_key(""), owner]))

    async def merge(
        self, guest: str, user: str, *, max_quantity: int, max_lines: int
    ) -> MergeOutcome:
        """Move a guest's lines into a user's basket and delete the guest's, in one step.

        A product in both adds the quantities, capped at ``max_quantity`` (the user's line keeps
        the price it was set at). A second merge of the same guest finds nothing to move.

        Args:
            guest: The guest owner.
            user: The user owner.
            max_quantity: Most units of one product.
            max_lines: Most lines; guest lines beyond it are dropped.

        Returns:
            How many lines were merged and dropped.
        """
        keys = [self.basket_key(guest), self.basket_key(user)]
        args: ScriptArgs = [self.index_key(""), guest, user, max_quantity, max_lines, self._ttl]
        merged, dropped = cast(list[int], await self._merge(keys=keys, args=args))
        return MergeOutcome(merged=int(merged), dropped=int(dropped))

    async def baskets_holding(self, product_id: str) -> set[str]:
        """The owners whose basket holds (or recently held) the product."""
        members = await self._redis.smembers(self.index_key(product_id))
        return {str(member) for member in members}

    async def ttl(self, owner: str) -> int:
        """Seconds left of the owner's basket (-2: no basket)."""
        return int(await self._redis.ttl(self.basket_key(owner)))
