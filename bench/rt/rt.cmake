# The guest runtime's build (rt/guest.h), included by bench/ and
# tests/difftest: each user compiles its own copy with its own flags (a
# custom command's output belongs to one target, which a file dependency
# from another directory cannot reach).
set(RT_SRC ${CMAKE_CURRENT_LIST_DIR})
set(RT_HEADERS ${RT_SRC}/rt.h ${RT_SRC}/guest.h)

# rt_guest_objects(VAR OBJDIR [CATCHERS] [USER] CFLAGS flags...): compile
# start.S, guest.c and lib.c (and catch.S with CATCHERS, for a guest that
# defines rt_exception; user.S with USER, for one that enters ring 3) into
# OBJDIR; VAR gets the objects. The flags must
# include -m32; lib.c also gets -fno-tree-loop-distribute-patterns so gcc
# does not turn its byte loops back into calls to memcpy and memset.
function(rt_guest_objects var objdir)
  cmake_parse_arguments(RT "CATCHERS;USER" "" "CFLAGS" ${ARGN})
  set(srcs start.S guest.c lib.c)
  if(RT_CATCHERS)
    list(APPEND srcs catch.S)
  endif()
  if(RT_USER)
    list(APPEND srcs user.S)
  endif()
  set(objs)
  foreach(src ${srcs})
    set(obj ${objdir}/rt-${src}.o)
    set(extra)
    if(src STREQUAL lib.c)
      set(extra -fno-tree-loop-distribute-patterns)
    endif()
    add_custom_command(OUTPUT ${obj}
      COMMAND ${BTVM_GUEST_CC} ${RT_CFLAGS} ${extra} -I${RT_SRC} -c -o ${obj} ${RT_SRC}/${src}
      DEPENDS ${RT_SRC}/${src} ${RT_HEADERS}
      COMMENT "guest runtime: compiling ${src} into ${objdir}"
      VERBATIM)
    list(APPEND objs ${obj})
  endforeach()
  set(${var} ${objs} PARENT_SCOPE)
endfunction()

# rt_guest_elf(OUT [LIMIT address] OBJECTS objs...): link a guest kernel
# with rt/guest.ld; LIMIT is the address its image must end below.
function(rt_guest_elf out)
  cmake_parse_arguments(RT "" "LIMIT" "OBJECTS" ${ARGN})
  set(limit)
  if(RT_LIMIT)
    set(limit -Wl,--defsym=rt_image_limit=${RT_LIMIT})
  endif()
  get_filename_component(name ${out} NAME)
  add_custom_command(OUTPUT ${out}
    COMMAND ${BTVM_GUEST_CC} -m32 -static -nostdlib -T ${RT_SRC}/guest.ld ${limit}
            -Wl,--build-id=none -Wl,--no-warn-rwx-segments -o ${out} ${RT_OBJECTS} -lgcc
    DEPENDS ${RT_OBJECTS} ${RT_SRC}/guest.ld
    COMMENT "guest runtime: linking ${name}"
    VERBATIM)
endfunction()
